import type { ApiKeyRow, Db, PlanRow, TenantRow } from "@cloudfreedom/db";
import { buildKeyRecord, type KeyRecord, redisKeys, type Tier } from "@cloudfreedom/shared";
import type { Redis } from "ioredis";
import { loadPeriodAnchorDay } from "./period-anchor.ts";
import { loadStandingLimits, type StandingLimits } from "./standing-limits.ts";

/** How long a revoked or expired key's record stays in Redis, so the router answers "revoked"/"expired". */
export const DEAD_KEY_RETENTION_MS = 24 * 60 * 60 * 1000;

/** What every KeyRecord of a tenant is built from besides its key row. */
export interface TenantContext {
  tenant: TenantRow;
  plan: PlanRow | null;
  tier: Tier;
  /** The standing budgets set by owners and operators (`budgets` rows of period "default"). */
  standing: StandingLimits;
  /** The anchor day of the tenant's budget periods (its live subscription's); null = calendar months. */
  periodAnchorDay: number | null;
}

export async function loadTenantContext(db: Db, tenant: TenantRow, tier: Tier): Promise<TenantContext> {
  const [plan, standing, periodAnchorDay] = await Promise.all([
    tenant.plan ? db.operator.collection("plans").getOne(tenant.plan) : null,
    loadStandingLimits(db, tenant.id),
    loadPeriodAnchorDay(db, tenant),
  ]);
  return { tenant, plan, tier, standing, periodAnchorDay };
}

/**
 * A key's record: the tenant's standing budget over its plan's, the key's user's standing budget, the period
 * anchor, so the router admits with the limits billing shows and checks (DESIGN.md §5).
 */
export function keyRecordOf(context: TenantContext, key: ApiKeyRow): KeyRecord {
  return buildKeyRecord({
    tenant: { ...context.tenant, tier: context.tier },
    plan: context.plan,
    key,
    tenantBudgetMicros: context.standing.tenant,
    userBudgetMicros: key.user ? (context.standing.users.get(key.user) ?? null) : null,
    periodAnchorDay: context.periodAnchorDay,
  });
}

/** Milliseconds Redis keeps a record: forever for a live key without expiry, a day past the end otherwise. */
export function recordTtlMs(record: KeyRecord, nowMs: number): number | null {
  if (record.revoked) return DEAD_KEY_RETENTION_MS;
  if (record.expires_at === null) return null;
  return Math.max(record.expires_at - nowMs, 0) + DEAD_KEY_RETENTION_MS;
}

/** Queues `SET cf:key:<hash>` (with its TTL) on a pipeline or multi. */
export function queueRecordWrite(
  pipeline: ReturnType<Redis["pipeline"]>,
  hash: string,
  record: KeyRecord,
  nowMs: number,
  options: { onlyIfMissing?: boolean } = {},
): void {
  const ttl = recordTtlMs(record, nowMs);
  const value = JSON.stringify(record);
  const key = redisKeys.keyRecord(hash);
  if (ttl === null) {
    if (options.onlyIfMissing) pipeline.set(key, value, "NX");
    else pipeline.set(key, value);
  } else if (options.onlyIfMissing) pipeline.set(key, value, "PX", ttl, "NX");
  else pipeline.set(key, value, "PX", ttl);
}
