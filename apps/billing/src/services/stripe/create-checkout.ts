import { AppError } from "@cloudfreedom/shared";
import type { BillingDeps } from "../../deps.ts";
import { loadTenant, planBySlug } from "../tenants/tenant-plan.ts";
import { findSubscriptionRow, LIVE } from "./apply-subscription.ts";
import { callStripe, requireStripe } from "./client.ts";
import { ensureCustomer } from "./ensure-customer.ts";

export interface CheckoutInput {
  tenantId: string;
  planSlug: string;
  successUrl?: string | undefined;
  cancelUrl?: string | undefined;
}

export function returnUrl(deps: Pick<BillingDeps, "env">): string {
  return deps.env.BILLING_RETURN_URL ?? `https://admin.${deps.env.PLATFORM_DOMAIN}/billing`;
}

/**
 * A Stripe Checkout session subscribing the tenant to a plan: its flat price, and its metered overage price when
 * it has one (the meter events of `stripe_meter_sync` are invoiced through it; a metered item takes no
 * quantity). The tenant and plan travel in the session's and the subscription's metadata, so the webhooks map
 * the result back without trusting anything else.
 */
export async function createCheckout(
  deps: Pick<BillingDeps, "db" | "stripe" | "env">,
  input: CheckoutInput,
): Promise<{ id: string; url: string | null }> {
  const stripe = requireStripe(deps);
  const tenant = await loadTenant(deps.db, input.tenantId);
  const plan = await planBySlug(deps.db, input.planSlug);
  if (!plan?.is_active) {
    throw new AppError("not_found", `No active plan "${input.planSlug}"`, { field: "plan" });
  }
  if (!plan.stripe_price_id) {
    throw new AppError(
      "invalid_request",
      `The plan "${plan.slug}" is not sold through Stripe (it has no stripe_price_id); contact sales`,
      { field: "plan" },
    );
  }
  // One subscription per tenant: a second one would bill twice while only one plan applies. Plan changes go
  // through the customer portal, which changes the subscription's price.
  const live = tenant.stripe_subscription_id
    ? await findSubscriptionRow(deps, tenant.stripe_subscription_id)
    : null;
  if (live && LIVE.has(live.status)) {
    throw new AppError(
      "conflict",
      `This tenant already has a subscription (${live.stripe_subscription_id}, ${live.status}); change its plan in the customer portal (POST /v1/billing/portal)`,
      { field: "plan", subscription: live.stripe_subscription_id },
    );
  }
  const customer = await callStripe(ensureCustomer(deps, tenant));
  const metadata = { tenant_id: tenant.id, plan: plan.slug };
  const base = returnUrl(deps);
  const session = await callStripe(
    stripe.checkout.sessions.create({
      mode: "subscription",
      customer,
      client_reference_id: tenant.id,
      line_items: [
        { price: plan.stripe_price_id, quantity: 1 },
        ...(plan.stripe_overage_price_id ? [{ price: plan.stripe_overage_price_id }] : []),
      ],
      metadata,
      subscription_data: { metadata },
      success_url: input.successUrl ?? `${base}?checkout=success`,
      cancel_url: input.cancelUrl ?? `${base}?checkout=cancelled`,
    }),
  );
  return { id: session.id, url: session.url };
}
