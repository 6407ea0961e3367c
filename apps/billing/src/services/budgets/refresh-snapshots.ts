import type { Db } from "@cloudfreedom/db";
import type { Redis } from "ioredis";
import { loadPeriodTotals } from "./period-totals.ts";
import { clearDirtySnapshot, takeDirtySnapshots } from "./snapshot-queue.ts";
import { writeSnapshot } from "./write-snapshot.ts";

/**
 * Recomputes the `budgets` snapshots of up to `limit` periods that got usage since their last refresh, from
 * `usage_logs` itself: the snapshot is a function of the stored logs, so duplicates and redeliveries cannot
 * move it. Returns how many periods were refreshed. A period that fails stays marked and is retried.
 */
export async function refreshDirtySnapshots(
  deps: { db: Db; redis: Redis; logger?: { warn(fields: object, message: string): void } },
  limit = 100,
): Promise<number> {
  const dirty = await takeDirtySnapshots(deps.redis, limit);
  let refreshed = 0;
  for (const entry of dirty) {
    try {
      const totals = await loadPeriodTotals(deps.db, entry.tenantId, entry.period);
      await writeSnapshot(deps.db, entry.tenantId, entry.period, totals);
      await clearDirtySnapshot(deps.redis, entry);
      refreshed += 1;
    } catch (error) {
      deps.logger?.warn(
        { err: error, tenant: entry.tenantId, period: entry.period },
        "budget snapshot refresh failed; will retry",
      );
    }
  }
  return refreshed;
}
