import {
  BillingInterval,
  Currency,
  LimitMicros,
  NonNegativeMicros,
  PlanSlug,
  Tier,
} from "@cloudfreedom/shared";
import { z } from "zod";

const Limit = z.number().int().positive().nullable();

/** What an operator may change on a plan (the slug is its identity). */
export const PlanUpdateBody = z
  .object({
    name: z.string().min(1).max(128),
    tier: Tier,
    price_micros: NonNegativeMicros,
    currency: Currency,
    interval: BillingInterval,
    monthly_budget_micros: LimitMicros.nullable(),
    query_limit: Limit,
    max_users: Limit,
    markup_pct: z.number().int().nonnegative().max(1000),
    rpm: Limit,
    tpm: Limit,
    stripe_price_id: z.string().min(1).max(255).nullable(),
    stripe_overage_price_id: z.string().min(1).max(255).nullable(),
    features: z.array(z.string().max(200)).max(50),
    is_active: z.boolean(),
    grace_days: z.number().int().nonnegative().max(365),
    downgrade_to: PlanSlug,
  })
  .partial()
  .strict();

export const PlanParams = z.object({ slug: PlanSlug });
export const PlanListQuery = z.object({ include_inactive: z.enum(["true", "false"]).optional() });
