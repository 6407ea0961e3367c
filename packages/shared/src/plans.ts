import { z } from "zod";
import { Currency, NonNegativeMicros } from "./money.ts";
import { Tier } from "./tiers.ts";

export const PlanSlug = z
  .string()
  .regex(/^[a-z0-9][a-z0-9-]{0,39}$/, { message: "must be lowercase letters, digits and dashes" });

export const BillingInterval = z.enum(["month", "year", "custom"]);

/** A plan as operators edit it. `null` limits mean unlimited. Markup is whole percent on provider cost (20 = +20 %). */
export const Plan = z.object({
  slug: PlanSlug,
  name: z.string().min(1),
  tier: Tier,
  price_micros: NonNegativeMicros,
  currency: Currency,
  interval: BillingInterval,
  monthly_budget_micros: NonNegativeMicros.nullable(),
  query_limit: z.number().int().positive().nullable(),
  max_users: z.number().int().positive().nullable(),
  markup_pct: z.number().int().nonnegative().max(1000),
  rpm: z.number().int().positive().nullable(),
  tpm: z.number().int().positive().nullable(),
  stripe_price_id: z.string().nullable(),
  /**
   * The metered Stripe price (on the billing meter of `STRIPE_METER_EVENT_NAME`) that bills spend above the
   * included budget; checkout subscribes to it next to `stripe_price_id`. Absent or null: overage is not billed.
   */
  stripe_overage_price_id: z.string().nullable().optional(),
  features: z.array(z.string()),
  is_active: z.boolean().default(true),
  /** Days a past-due subscription keeps its tier after a failed payment; absent = the billing default. */
  grace_days: z.number().int().nonnegative().optional(),
  /** The plan a tenant falls back to when that grace ends (or the subscription ends); absent = `free`. */
  downgrade_to: PlanSlug.optional(),
});
export type Plan = z.infer<typeof Plan>;
