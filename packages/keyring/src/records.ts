import type { ApiKeyRow, Db, PlanRow, TenantRow } from "@cloudfreedom/db";
import { buildKeyRecord, type KeyRecord, redisKeys, type Tier } from "@cloudfreedom/shared";
import type { Redis } from "ioredis";

/** How long a revoked or expired key's record stays in Redis, so the router answers "revoked"/"expired". */
export const DEAD_KEY_RETENTION_MS = 24 * 60 * 60 * 1000;

export interface TenantContext {
  tenant: TenantRow;
  plan: PlanRow | null;
  tier: Tier;
}

export async function loadTenantContext(db: Db, tenant: TenantRow, tier: Tier): Promise<TenantContext> {
  const plan = tenant.plan ? await db.operator.collection("plans").getOne(tenant.plan) : null;
  return { tenant, plan, tier };
}

export function keyRecordOf(context: TenantContext, key: ApiKeyRow): KeyRecord {
  return buildKeyRecord({ tenant: { ...context.tenant, tier: context.tier }, plan: context.plan, key });
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
): void {
  const ttl = recordTtlMs(record, nowMs);
  const value = JSON.stringify(record);
  if (ttl === null) pipeline.set(redisKeys.keyRecord(hash), value);
  else pipeline.set(redisKeys.keyRecord(hash), value, "PX", ttl);
}
