import type { Db, UsageDailyTotalRow } from "@cloudfreedom/db";
import type { PeriodId } from "@cloudfreedom/shared";

export interface UsageTotals {
  requests: number;
  failed_requests: number;
  input_tokens: number;
  cached_input_tokens: number;
  cache_write_tokens: number;
  output_tokens: number;
  cost_micros: number;
  billed_micros: number;
}

export interface UsageSummary {
  tenant_id: string;
  period: PeriodId;
  totals: UsageTotals;
  by_model: Array<{ model: string } & UsageTotals>;
  by_key: Array<{ key_id: string | null } & UsageTotals>;
  by_day: Array<{ day: string } & UsageTotals>;
  /** The finest grain: one row per day, model and key (what the CSV export holds). */
  rows: Array<{ day: string; model: string; key_id: string | null } & UsageTotals>;
}

const FIELDS = [
  "requests",
  "failed_requests",
  "input_tokens",
  "cached_input_tokens",
  "cache_write_tokens",
  "output_tokens",
  "cost_micros",
  "billed_micros",
] as const;

const zero = (): UsageTotals => ({
  requests: 0,
  failed_requests: 0,
  input_tokens: 0,
  cached_input_tokens: 0,
  cache_write_tokens: 0,
  output_tokens: 0,
  cost_micros: 0,
  billed_micros: 0,
});

function addInto(target: UsageTotals, row: UsageTotals): void {
  for (const field of FIELDS) target[field] += row[field];
}

function groupBy<K extends string>(
  rows: UsageDailyTotalRow[],
  keyOf: (row: UsageDailyTotalRow) => K,
): Map<K, UsageTotals> {
  const groups = new Map<K, UsageTotals>();
  for (const row of rows) {
    const key = keyOf(row);
    const totals = groups.get(key) ?? zero();
    addInto(totals, row);
    groups.set(key, totals);
  }
  return groups;
}

const sorted = <K extends string, T>(
  groups: Map<K, UsageTotals>,
  make: (key: K, totals: UsageTotals) => T,
): T[] =>
  [...groups.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([key, totals]) => make(key, totals));

/** Totals by model, key and UTC day for a period, from the `usage_daily_totals` view (one indexed query). */
export async function summarizeUsage(db: Db, tenantId: string, period: PeriodId): Promise<UsageSummary> {
  const rows = await db
    .forTenant(tenantId)
    .collection("usage_daily_totals")
    .listAll({ filter: "period = {:period}", params: { period }, sort: "day,model,api_key" });
  const totals = zero();
  for (const row of rows) addInto(totals, row);
  return {
    tenant_id: tenantId,
    period,
    totals,
    by_model: sorted(
      groupBy(rows, (r) => r.model),
      (model, t) => ({ model, ...t }),
    ),
    by_key: sorted(
      groupBy(rows, (r) => r.api_key),
      (key, t) => ({ key_id: key || null, ...t }),
    ),
    by_day: sorted(
      groupBy(rows, (r) => r.day),
      (day, t) => ({ day, ...t }),
    ),
    rows: rows.map((row) => {
      const line = zero();
      addInto(line, row);
      return { day: row.day, model: row.model, key_id: row.api_key || null, ...line };
    }),
  };
}
