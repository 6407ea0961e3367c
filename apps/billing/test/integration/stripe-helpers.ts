import Stripe from "stripe";
import type { BillingHarness } from "./harness.ts";
import { WEBHOOK_SECRET } from "./harness.ts";

let sequence = 0;

/** A Stripe event as Stripe would deliver it, signed with the SDK's test header helper. */
export async function deliver(
  h: BillingHarness,
  type: string,
  object: Record<string, unknown>,
  options: { id?: string; created?: number; secret?: string } = {},
): Promise<Awaited<ReturnType<BillingHarness["call"]>> & { eventId: string }> {
  sequence += 1;
  const eventId = options.id ?? `evt_test_${Date.now()}_${sequence}`;
  const payload = JSON.stringify({
    id: eventId,
    object: "event",
    api_version: "2026-10-28.endive",
    created: options.created ?? Math.floor(Date.now() / 1000) + sequence,
    type,
    livemode: false,
    data: { object },
  });
  const signature = await Stripe.webhooks.generateTestHeaderStringAsync({
    payload,
    secret: options.secret ?? WEBHOOK_SECRET,
  });
  const res = await h.call("POST", "/v1/stripe/webhook", {
    raw: payload,
    headers: { "stripe-signature": signature },
  });
  return { ...res, eventId };
}

export function subscriptionObject(input: {
  id: string;
  customer: string;
  price: string;
  status: string;
  tenantId?: string;
  start?: number;
  /** A metered overage price, listed before the plan's own item (Stripe does not promise an order). */
  overagePrice?: string;
}): Record<string, unknown> {
  const start = input.start ?? Math.floor(Date.UTC(2026, 10, 15) / 1000);
  return {
    id: input.id,
    object: "subscription",
    customer: input.customer,
    status: input.status,
    cancel_at_period_end: false,
    canceled_at: null,
    metadata: input.tenantId ? { tenant_id: input.tenantId } : {},
    items: {
      object: "list",
      data: [
        ...(input.overagePrice
          ? [
              {
                id: `si_${input.id}_overage`,
                price: { id: input.overagePrice, recurring: { interval: "month", usage_type: "metered" } },
                current_period_start: start,
                current_period_end: start + 30 * 86_400,
              },
            ]
          : []),
        {
          id: `si_${input.id}`,
          price: { id: input.price, recurring: { interval: "month", usage_type: "licensed" } },
          current_period_start: start,
          current_period_end: start + 30 * 86_400,
        },
      ],
    },
  };
}

export function invoiceObject(subscription: string, customer: string): Record<string, unknown> {
  return {
    id: `in_${subscription}_${Date.now()}`,
    object: "invoice",
    customer,
    parent: { type: "subscription_details", subscription_details: { subscription } },
  };
}
