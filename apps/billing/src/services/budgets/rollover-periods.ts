import { type PeriodId, periodOf, previousPeriod } from "@cloudfreedom/shared";
import type { TenantPeriods } from "../periods/tenant-periods.ts";
import { refreshSnapshot, type SnapshotDeps } from "./refresh-snapshots.ts";

export interface RolloverReport {
  periods: PeriodId[];
  closed: number;
  /** Tenants whose (anchored) period has not ended yet. */
  open: number;
  /** Periods another replica kept refreshing through three tries: closed by the next run. */
  busy: number;
}

/** Another replica refreshing the period holds it for milliseconds: tried three times, 200 ms apart. */
const CLOSE_WAIT = { waitMs: 400, pollMs: 200 };

/**
 * `period_rollover`: for each tenant with usage in the period(s), once the tenant's period has ended, writes
 * the final snapshot from `usage_logs` and stamps `closed_at`. Counters need no reset (the period id is part
 * of every counter key). Without a period it looks at the last two, so an anchored period that ends mid-month
 * is closed by the next daily run. Idempotent: a closed period is recomputed to the same numbers.
 */
export async function rolloverPeriods(
  deps: SnapshotDeps & { periods: TenantPeriods },
  options: { period?: PeriodId; now?: Date } = {},
): Promise<RolloverReport> {
  const now = options.now ?? new Date();
  const current = periodOf(now);
  const candidates = options.period
    ? [options.period]
    : [previousPeriod(previousPeriod(current)), previousPeriod(current)];
  const report: RolloverReport = { periods: candidates, closed: 0, open: 0, busy: 0 };
  for (const period of candidates) {
    const totals = await deps.db.operator
      .collection("usage_period_totals")
      .listAll({ filter: "period = {:period}", params: { period } });
    const tenants = new Set(totals.map((row) => row.tenant));
    for (const tenantId of tenants) {
      const bounds = await deps.periods.bounds(tenantId, period);
      if (bounds.end > now) {
        report.open += 1;
        continue;
      }
      const closedAlready = await deps.db.forTenant(tenantId).collection("budgets").getFirst({
        filter: "scope_type = 'tenant' && period = {:period} && closed_at != ''",
        params: { period },
      });
      if (closedAlready) continue;
      if ((await refreshSnapshot(deps, tenantId, period, { close: true, now, wait: CLOSE_WAIT })).held)
        report.closed += 1;
      else report.busy += 1;
    }
  }
  return report;
}
