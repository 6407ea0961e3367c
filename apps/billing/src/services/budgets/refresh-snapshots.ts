import type { Db } from "@cloudfreedom/db";
import { type Locked, withLock } from "@cloudfreedom/queue";
import type { PeriodId } from "@cloudfreedom/shared";
import type { Redis } from "ioredis";
import { loadPeriodTotals } from "./period-totals.ts";
import {
  clearDirtySnapshot,
  SNAPSHOT_DIRTY_KEY,
  snapshotLockKey,
  takeDirtySnapshots,
} from "./snapshot-queue.ts";
import { writeSnapshot } from "./write-snapshot.ts";

/**
 * A refresh takes milliseconds; a replica that crashed holding a period's lock delays its snapshot this much at
 * most. One that outlives it (PocketBase stalled for seconds) no longer excludes the others, and says so.
 */
const SNAPSHOT_LOCK_MS = 10_000;

export interface SnapshotDeps {
  db: Db;
  redis: Redis;
  logger?: { warn(fields: object, message: string): void };
}

/**
 * Recomputes a period's `budgets` snapshot from `usage_logs` and writes it, holding the period's lock across
 * replicas: `writeSnapshot` keeps the larger of the stored and the computed spend, but it reads the row before
 * it writes, so without the lock an older computation writing last could lower what a newer one wrote in
 * between. `{ held: false }`, nothing computed, when another replica holds it; `skip` (checked once the lock
 * is held) resolves true when the work is no longer needed, and the value is then false.
 */
export async function refreshSnapshot(
  deps: SnapshotDeps,
  tenantId: string,
  period: PeriodId,
  options: {
    close?: boolean;
    now?: Date;
    skip?: () => Promise<boolean>;
    afterWrite?: () => Promise<void>;
    /** Try again while another replica holds the period (`withLock`'s wait); default: give up at once. */
    wait?: { waitMs: number; pollMs: number };
  } = {},
): Promise<Locked<boolean>> {
  const work = async () => {
    if (await options.skip?.()) return false;
    const totals = await loadPeriodTotals(deps.db, tenantId, period);
    await writeSnapshot(deps.db, tenantId, period, totals, options);
    await options.afterWrite?.();
    return true;
  };
  const locked = await withLock(
    deps.redis,
    snapshotLockKey(tenantId, period),
    SNAPSHOT_LOCK_MS,
    work,
    options.wait,
  );
  if (locked.held && locked.lost)
    deps.logger?.warn(
      { tenant: tenantId, period, lock_ms: SNAPSHOT_LOCK_MS },
      "budget snapshot refresh outlived its lock; another replica may have written meanwhile",
    );
  return locked;
}

/**
 * Recomputes the `budgets` snapshots of up to `limit` periods that got usage since their last refresh, from
 * `usage_logs` itself: the snapshot is a function of the stored logs, so duplicates and redeliveries cannot
 * move it. Returns how many periods were refreshed. A period that fails, or that another replica is
 * refreshing, stays marked and is retried; one whose mark another replica cleared meanwhile is skipped.
 */
export async function refreshDirtySnapshots(deps: SnapshotDeps, limit = 100): Promise<number> {
  const dirty = await takeDirtySnapshots(deps.redis, limit);
  let refreshed = 0;
  for (const entry of dirty) {
    try {
      const locked = await refreshSnapshot(deps, entry.tenantId, entry.period, {
        skip: async () => (await deps.redis.zscore(SNAPSHOT_DIRTY_KEY, entry.member)) === null,
        afterWrite: () => clearDirtySnapshot(deps.redis, entry),
      });
      if (locked.held && locked.value) refreshed += 1;
    } catch (error) {
      deps.logger?.warn(
        { err: error, tenant: entry.tenantId, period: entry.period },
        "budget snapshot refresh failed; will retry",
      );
    }
  }
  return refreshed;
}
