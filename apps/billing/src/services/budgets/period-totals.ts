import type { Db } from "@cloudfreedom/db";
import type { PeriodId } from "@cloudfreedom/shared";

export interface ScopeTotal {
  spent: number;
  queries: number;
}

/** A period's settled spend per scope, summed from `usage_logs` (through the `usage_period_totals` view). */
export interface PeriodTotals {
  tenant: ScopeTotal;
  users: Map<string, ScopeTotal>;
  keys: Map<string, ScopeTotal>;
}

function add(table: Map<string, ScopeTotal>, id: string, spent: number, queries: number): void {
  const current = table.get(id) ?? { spent: 0, queries: 0 };
  table.set(id, { spent: current.spent + spent, queries: current.queries + queries });
}

export function emptyPeriodTotals(): PeriodTotals {
  return { tenant: { spent: 0, queries: 0 }, users: new Map(), keys: new Map() };
}

/** One indexed aggregate query per tenant and period, whatever the number of logs. */
export async function loadPeriodTotals(db: Db, tenantId: string, period: PeriodId): Promise<PeriodTotals> {
  const rows = await db
    .forTenant(tenantId)
    .collection("usage_period_totals")
    .listAll({ filter: "period = {:period}", params: { period } });
  const totals = emptyPeriodTotals();
  for (const row of rows) {
    totals.tenant.spent += row.billed_micros;
    totals.tenant.queries += row.queries;
    if (row.user) add(totals.users, row.user, row.billed_micros, row.queries);
    if (row.api_key) add(totals.keys, row.api_key, row.billed_micros, row.queries);
  }
  return totals;
}
