import { AppError, isAppError } from "@cloudfreedom/shared";
import Stripe from "stripe";
import type { BillingDeps } from "../../deps.ts";
import { applyCheckout } from "./apply-checkout.ts";
import { applyInvoicePaid, applyPaymentFailed } from "./apply-invoice.ts";
import { applySubscription } from "./apply-subscription.ts";
import { CheckoutSession, Invoice, StripeEventEnvelope, Subscription } from "./webhook-payloads.ts";

type WebhookDeps = Pick<BillingDeps, "db" | "stripe" | "env" | "refreshTenantKeys" | "periods" | "logger">;

export interface WebhookResult {
  event_id: string;
  type: string;
  duplicate: boolean;
  outcome: string;
}

/** Verifies the `Stripe-Signature` over the raw body (timestamp tolerance 5 min). Bad → 400, nothing changed. */
async function verify(
  deps: WebhookDeps,
  rawBody: string,
  signature: string | undefined,
): Promise<StripeEventEnvelope> {
  const secret = deps.env.STRIPE_WEBHOOK_SECRET;
  if (!secret)
    throw new AppError("service_unavailable", "Stripe webhooks are not configured (STRIPE_WEBHOOK_SECRET)");
  if (!signature)
    throw new AppError("invalid_request", "Missing Stripe-Signature header", { field: "stripe-signature" });
  const webhooks = deps.stripe?.webhooks ?? Stripe.webhooks;
  let event: unknown;
  try {
    event = await webhooks.constructEventAsync(rawBody, signature, secret);
  } catch {
    throw new AppError("invalid_request", "Invalid Stripe signature", { field: "stripe-signature" });
  }
  const parsed = StripeEventEnvelope.safeParse(event);
  if (!parsed.success) throw new AppError("invalid_request", "Not a Stripe event", { field: "body" });
  return parsed.data;
}

async function dispatch(deps: WebhookDeps, event: StripeEventEnvelope): Promise<string> {
  const object = event.data.object;
  switch (event.type) {
    case "checkout.session.completed":
      return applyCheckout(deps, CheckoutSession.parse(object), event.created);
    case "customer.subscription.created":
    case "customer.subscription.updated":
      return applySubscription(deps, Subscription.parse(object), event.created);
    case "customer.subscription.deleted":
      return applySubscription(deps, Subscription.parse(object), event.created, true);
    case "invoice.paid":
      return applyInvoicePaid(deps, Invoice.parse(object), event.created);
    case "invoice.payment_failed":
      return applyPaymentFailed(deps, Invoice.parse(object), event.created);
    default:
      return "ignored";
  }
}

/**
 * One Stripe webhook delivery: verify, skip an event already processed (`stripe_events`, unique by event id),
 * apply it, then record it. Every handler is an idempotent upsert, so a delivery that fails half way (Stripe
 * retries it) or two deliveries racing each other leave the same state as one.
 */
export async function handleStripeWebhook(
  deps: WebhookDeps,
  rawBody: string,
  signature: string | undefined,
): Promise<WebhookResult> {
  const event = await verify(deps, rawBody, signature);
  const events = deps.db.operator.collection("stripe_events");
  const seen = await events.getFirst({ filter: "event_id = {:id}", params: { id: event.id } });
  if (seen) return { event_id: event.id, type: event.type, duplicate: true, outcome: "duplicate" };
  let outcome: string;
  try {
    outcome = await dispatch(deps, event);
  } catch (error) {
    if (error instanceof Error && error.name === "ZodError") {
      throw new AppError("invalid_request", `Malformed ${event.type} payload`, { field: "data.object" });
    }
    throw error;
  }
  try {
    await events.create({ event_id: event.id, type: event.type, processed_at: new Date().toISOString() });
  } catch (error) {
    if (!isAppError(error) || error.code !== "conflict") throw error;
    return { event_id: event.id, type: event.type, duplicate: true, outcome };
  }
  deps.logger.info({ stripe_event: event.id, type: event.type, outcome }, "stripe event processed");
  return { event_id: event.id, type: event.type, duplicate: false, outcome };
}
