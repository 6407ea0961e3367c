import type { Db } from "@cloudfreedom/db";
import { withLock } from "@cloudfreedom/queue";
import type { PeriodId } from "@cloudfreedom/shared";
import type { Redis } from "ioredis";
import { loadPeriodTotals } from "./period-totals.ts";
import { clearDirtySnapshot, snapshotLockKey, takeDirtySnapshots } from "./snapshot-queue.ts";
import { writeSnapshot } from "./write-snapshot.ts";

/**
 * A refresh takes milliseconds; a replica that crashed holding a period's lock delays its snapshot this much at
 * most. One that outlives it (PocketBase stalled for seconds) no longer excludes the others, as before locks.
 */
const SNAPSHOT_LOCK_MS = 10_000;

/**
 * Recomputes a period's `budgets` snapshot from `usage_logs` and writes it, holding the period's lock across
 * replicas: `writeSnapshot` keeps the larger of the stored and the computed spend, but it reads the row before
 * it writes, so an older computation writing last could still lower what a newer one wrote in between. `afterWrite`
 * runs inside the lock after the write. Resolves false, computing nothing, when another replica holds it.
 */
export async function refreshSnapshot(
  deps: { db: Db; redis: Redis },
  tenantId: string,
  period: PeriodId,
  options: { close?: boolean; now?: Date; afterWrite?: () => Promise<void> } = {},
): Promise<boolean> {
  const locked = await withLock(deps.redis, snapshotLockKey(tenantId, period), SNAPSHOT_LOCK_MS, async () => {
    const totals = await loadPeriodTotals(deps.db, tenantId, period);
    await writeSnapshot(deps.db, tenantId, period, totals, options);
    await options.afterWrite?.();
  });
  return locked.held;
}

/**
 * Recomputes the `budgets` snapshots of up to `limit` periods that got usage since their last refresh, from
 * `usage_logs` itself: the snapshot is a function of the stored logs, so duplicates and redeliveries cannot
 * move it. Returns how many periods were refreshed. A period that fails, or that another replica is
 * refreshing, stays marked and is retried.
 */
export async function refreshDirtySnapshots(
  deps: { db: Db; redis: Redis; logger?: { warn(fields: object, message: string): void } },
  limit = 100,
): Promise<number> {
  const dirty = await takeDirtySnapshots(deps.redis, limit);
  let refreshed = 0;
  for (const entry of dirty) {
    try {
      const done = await refreshSnapshot(deps, entry.tenantId, entry.period, {
        afterWrite: () => clearDirtySnapshot(deps.redis, entry),
      });
      if (done) refreshed += 1;
    } catch (error) {
      deps.logger?.warn(
        { err: error, tenant: entry.tenantId, period: entry.period },
        "budget snapshot refresh failed; will retry",
      );
    }
  }
  return refreshed;
}
