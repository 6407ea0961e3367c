import type { PeriodId } from "@cloudfreedom/shared";
import type { Redis } from "ioredis";

/**
 * Periods whose `budgets` snapshot is stale, as a sorted set `tenant|period` → when it last got usage (ms).
 * The usage pipeline marks a period before it acknowledges the batch, so a crash can leave a period marked
 * twice but never unmarked; the refresher clears a mark only if no newer usage arrived while it computed.
 */
export const SNAPSHOT_DIRTY_KEY = "cf:billing:snapshot-dirty";

/** Held while a period's snapshot is recomputed and written (one replica at a time per tenant and period). */
export const snapshotLockKey = (tenantId: string, period: PeriodId) =>
  `cf:billing:snapshot-lock:${tenantId}|${period}`;

const CLEAR_IF_UNCHANGED =
  "if redis.call('ZSCORE', KEYS[1], ARGV[1]) == ARGV[2] then return redis.call('ZREM', KEYS[1], ARGV[1]) end return 0";

export interface DirtyPeriod {
  tenantId: string;
  period: PeriodId;
  member: string;
  score: string;
}

export async function markSnapshotsDirty(
  redis: Redis,
  periods: Iterable<{ tenantId: string; period: PeriodId }>,
  now = Date.now(),
): Promise<void> {
  const args = new Set<string>();
  for (const { tenantId, period } of periods) args.add(`${tenantId}|${period}`);
  if (args.size === 0) return;
  await redis.zadd(SNAPSHOT_DIRTY_KEY, ...[...args].flatMap((member) => [now, member]));
}

export async function takeDirtySnapshots(redis: Redis, limit: number): Promise<DirtyPeriod[]> {
  const flat = await redis.zrange(SNAPSHOT_DIRTY_KEY, 0, limit - 1, "WITHSCORES");
  const out: DirtyPeriod[] = [];
  for (let i = 0; i + 1 < flat.length; i += 2) {
    const member = flat[i] ?? "";
    const [tenantId, period] = member.split("|");
    if (tenantId && period) out.push({ tenantId, period, member, score: flat[i + 1] ?? "" });
  }
  return out;
}

export async function clearDirtySnapshot(redis: Redis, entry: DirtyPeriod): Promise<void> {
  await redis.eval(CLEAR_IF_UNCHANGED, 1, SNAPSHOT_DIRTY_KEY, entry.member, entry.score);
}
