import type { BudgetRow, Db } from "@cloudfreedom/db";
import { toPbDate } from "@cloudfreedom/db";
import { isAppError, type PeriodId } from "@cloudfreedom/shared";
import type { PeriodTotals, ScopeTotal } from "./period-totals.ts";

type ScopeType = BudgetRow["scope_type"];

/** The scopes of a snapshot: the tenant, then each user and key that has usage in the period. */
function scopesOf(tenantId: string, totals: PeriodTotals): Array<[ScopeType, string, ScopeTotal]> {
  return [
    ["tenant", tenantId, totals.tenant],
    ...[...totals.users].map(([id, total]): [ScopeType, string, ScopeTotal] => ["user", id, total]),
    ...[...totals.keys].map(([id, total]): [ScopeType, string, ScopeTotal] => ["key", id, total]),
  ];
}

/**
 * Writes a period's spend snapshot to `budgets`, one row per scope. Spend only grows within a period, so a
 * row keeps the larger of its stored and the new value. It reads the rows before it writes them: callers go
 * through `refreshSnapshot`, which holds the period's lock, so that an older computation finishing last
 * cannot lower what a newer one wrote in between. `close` stamps `closed_at` (the rollover of an ended period).
 */
export async function writeSnapshot(
  db: Db,
  tenantId: string,
  period: PeriodId,
  totals: PeriodTotals,
  options: { close?: boolean; now?: Date } = {},
): Promise<number> {
  const budgets = db.forTenant(tenantId).collection("budgets");
  const existing = await budgets.listAll({ filter: "period = {:period}", params: { period } });
  const byScope = new Map(existing.map((row) => [`${row.scope_type}:${row.scope_id}`, row]));
  const closedAt = options.close ? toPbDate(options.now ?? new Date()) : undefined;
  let written = 0;
  for (const [scopeType, scopeId, total] of scopesOf(tenantId, totals)) {
    const row = byScope.get(`${scopeType}:${scopeId}`);
    const spent = Math.max(row?.spent_micros ?? 0, total.spent);
    const queries = Math.max(row?.query_count ?? 0, total.queries);
    const close = closedAt !== undefined && !row?.closed_at;
    if (row && row.spent_micros === spent && row.query_count === queries && !close) continue;
    const data = { spent_micros: spent, query_count: queries, ...(close ? { closed_at: closedAt } : {}) };
    if (row) await budgets.update(row.id, data);
    else await createOrUpdate(db, tenantId, { scope_type: scopeType, scope_id: scopeId, period, ...data });
    written += 1;
  }
  return written;
}

/** Another writer may create the same row meanwhile (unique tenant+scope+period): then update theirs. */
async function createOrUpdate(
  db: Db,
  tenantId: string,
  data: {
    scope_type: ScopeType;
    scope_id: string;
    period: string;
    spent_micros: number;
    query_count: number;
  },
): Promise<void> {
  const budgets = db.forTenant(tenantId).collection("budgets");
  try {
    await budgets.create(data);
  } catch (error) {
    if (!isAppError(error) || error.code !== "conflict") throw error;
    const row = await budgets.getFirst({
      filter: "scope_type = {:type} && scope_id = {:id} && period = {:period}",
      params: { type: data.scope_type, id: data.scope_id, period: data.period },
    });
    if (!row) throw error;
    await budgets.update(row.id, {
      spent_micros: Math.max(row.spent_micros, data.spent_micros),
      query_count: Math.max(row.query_count, data.query_count),
    });
  }
}
