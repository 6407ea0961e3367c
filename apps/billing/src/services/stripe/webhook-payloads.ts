import { z } from "zod";

/**
 * The slices of Stripe event objects the billing service reads, parsed leniently (unknown fields pass).
 * Subscription periods moved from the subscription to its items in newer API versions, and an invoice's
 * subscription moved under `parent`; both shapes are accepted.
 */
const Id = z.string().min(1);
const Expandable = z.union([Id, z.object({ id: Id }).passthrough()]).nullish();
const Metadata = z.record(z.string(), z.string()).nullish();

export const idOf = (value: z.infer<typeof Expandable>): string | null =>
  value == null ? null : typeof value === "string" ? value : value.id;

export const StripeEventEnvelope = z.object({
  id: Id,
  type: z.string().min(1),
  created: z.number().int(),
  data: z.object({ object: z.record(z.string(), z.unknown()) }),
});
export type StripeEventEnvelope = z.infer<typeof StripeEventEnvelope>;

export const CheckoutSession = z.object({
  id: Id,
  mode: z.string().nullish(),
  client_reference_id: z.string().nullish(),
  customer: Expandable,
  subscription: Expandable,
  metadata: Metadata,
});

const SubscriptionItem = z.object({
  price: z
    .object({ id: Id, recurring: z.object({ usage_type: z.string().nullish() }).passthrough().nullish() })
    .passthrough()
    .nullish(),
  current_period_start: z.number().int().nullish(),
  current_period_end: z.number().int().nullish(),
});

export const Subscription = z.object({
  id: Id,
  customer: Expandable,
  status: z.enum([
    "incomplete",
    "incomplete_expired",
    "trialing",
    "active",
    "past_due",
    "canceled",
    "unpaid",
    "paused",
  ]),
  metadata: Metadata,
  cancel_at_period_end: z.boolean().nullish(),
  canceled_at: z.number().int().nullish(),
  current_period_start: z.number().int().nullish(),
  current_period_end: z.number().int().nullish(),
  /** When the billing cycle is anchored (epoch s): its day of month is the periods' anchor day. */
  billing_cycle_anchor: z.number().int().nullish(),
  items: z.object({ data: z.array(SubscriptionItem) }).nullish(),
});
export type Subscription = z.infer<typeof Subscription>;

export const Invoice = z.object({
  id: Id,
  customer: Expandable,
  subscription: Expandable,
  parent: z
    .object({ subscription_details: z.object({ subscription: Expandable }).passthrough().nullish() })
    .passthrough()
    .nullish(),
});
export type Invoice = z.infer<typeof Invoice>;

export function invoiceSubscriptionId(invoice: Invoice): string | null {
  return idOf(invoice.subscription) ?? idOf(invoice.parent?.subscription_details?.subscription);
}

/**
 * Price and period of a subscription, from its plan's item (new API versions) or the subscription itself. The
 * plan's item is the first one that is not metered: checkout adds the plan's metered overage price beside it,
 * and Stripe does not promise the items' order.
 */
export function subscriptionTerms(sub: Subscription): {
  priceId: string | null;
  start: number | null;
  end: number | null;
} {
  const items = sub.items?.data ?? [];
  const item = items.find((i) => i.price?.recurring?.usage_type !== "metered") ?? items[0];
  return {
    priceId: item?.price?.id ?? null,
    start: item?.current_period_start ?? sub.current_period_start ?? null,
    end: item?.current_period_end ?? sub.current_period_end ?? null,
  };
}
