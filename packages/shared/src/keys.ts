import { z } from "zod";
import { AppError } from "./errors.ts";
import { NonNegativeMicros } from "./money.ts";
import { Tier } from "./tiers.ts";

export const KeyScope = z.enum(["chat", "completions", "embeddings", "models", "billing", "traces", "admin"]);
export type KeyScope = z.infer<typeof KeyScope>;

/** The tenant's plan limits travel with every key so admission needs no second lookup. `null` = unlimited. */
export const TenantLimits = z.object({
  rpm: z.number().int().positive().nullable(),
  tpm: z.number().int().positive().nullable(),
  query_limit: z.number().int().positive().nullable(),
  budget_micros: NonNegativeMicros.nullable(),
  markup_pct: z.number().int().nonnegative(),
  /** Day of month (UTC) the tenant's budget periods start on (subscription anchor); absent/null = the 1st. */
  period_anchor_day: z.number().int().min(1).max(31).nullable().optional(),
});
export type TenantLimits = z.infer<typeof TenantLimits>;

/**
 * What the router needs to admit a request, cached in Redis at `cf:key:<sha256>` (DESIGN.md §5).
 * Times are epoch milliseconds so the hot path compares numbers, not dates.
 */
export const KeyRecord = z.object({
  key_id: z.string().min(1),
  tenant_id: z.string().min(1),
  tenant_slug: z.string().min(1),
  user_id: z.string().min(1).nullable(),
  tier: Tier,
  scopes: z.array(KeyScope),
  models: z.array(z.string()).nullable(),
  rpm: z.number().int().positive().nullable(),
  tpm: z.number().int().positive().nullable(),
  budget_micros: NonNegativeMicros.nullable(),
  /** The key owner's monthly budget (a `budgets` row of scope `user`); absent or null = none. */
  user_budget_micros: NonNegativeMicros.nullable().optional(),
  tenant_limits: TenantLimits,
  expires_at: z.number().int().nullable(),
  revoked: z.boolean(),
});
export type KeyRecord = z.infer<typeof KeyRecord>;

export type KeyRejection = "revoked" | "expired";

/** A key is usable until it is revoked or its expiry (which rotation's grace period sets) has passed. */
export function keyRejection(record: KeyRecord, nowMs: number): KeyRejection | null {
  if (record.revoked) return "revoked";
  if (record.expires_at !== null && record.expires_at <= nowMs) return "expired";
  return null;
}

const REJECTION_MESSAGES: Readonly<Record<KeyRejection, string>> = {
  revoked:
    "API key revoked: if it was rotated, use the key that replaced it; otherwise create a new key, or ask an owner or admin of the tenant for one",
  expired:
    "API key expired (its expiry passed, or it was rotated and the grace period ended): use the key that replaced it, or create a new one",
};

/** The 401 a revoked or expired key gets, wherever a key is resolved (the router, the billing API). */
export function keyRejectionError(rejection: KeyRejection): AppError {
  return new AppError("invalid_api_key", REJECTION_MESSAGES[rejection], { reason: rejection });
}
