import type { PocketBaseClient } from "@cloudfreedom/db";
import type { PeriodId } from "@cloudfreedom/shared";
import { z } from "zod";

/** A period's settled spend per scope and its counted queries, as the system of record knows them. */
export interface PeriodTotals {
  tenant: number;
  users: Record<string, number>;
  keys: Record<string, number>;
  queries: number;
}

/** Where counters are rebuilt from after Redis lost them. */
export interface CounterSource {
  load(tenantId: string, period: PeriodId): Promise<PeriodTotals>;
}

export const emptyTotals = (): PeriodTotals => ({ tenant: 0, users: {}, keys: {}, queries: 0 });

const UsageSlice = z.object({
  billed_micros: z.number().int().nonnegative(),
  user: z.string(),
  api_key: z.string(),
  status: z.string(),
});
type UsageSlice = z.infer<typeof UsageSlice>;

const BudgetSnapshot = z.object({
  scope_type: z.enum(["tenant", "user", "key"]),
  scope_id: z.string(),
  spent_micros: z.number().int().nonnegative(),
  query_count: z.number().int().nonnegative(),
});
type BudgetSnapshot = z.infer<typeof BudgetSnapshot>;

/** A call that failed and cost nothing gave its query back; the counters must count it the same way. */
export const countsAsQuery = (row: { status: string; billed_micros: number }): boolean =>
  !(row.status === "error" && row.billed_micros === 0);

/** Adds usage rows to the totals of their scopes. */
export function addUsage(totals: PeriodTotals, rows: Iterable<UsageSlice>): PeriodTotals {
  for (const row of rows) {
    totals.tenant += row.billed_micros;
    if (row.user) totals.users[row.user] = (totals.users[row.user] ?? 0) + row.billed_micros;
    if (row.api_key) totals.keys[row.api_key] = (totals.keys[row.api_key] ?? 0) + row.billed_micros;
    if (countsAsQuery(row)) totals.queries += 1;
  }
  return totals;
}

/**
 * Per scope, the larger of the usage-log sum and the billing worker's `budgets` snapshot. Both count a subset
 * of the same settled events (logs may be pruned, a snapshot may lag), so the larger never counts twice.
 */
export function mergeSnapshots(fromLogs: PeriodTotals, snapshots: Iterable<BudgetSnapshot>): PeriodTotals {
  const merged: PeriodTotals = { ...fromLogs, users: { ...fromLogs.users }, keys: { ...fromLogs.keys } };
  for (const snap of snapshots) {
    if (snap.scope_type === "tenant") {
      merged.tenant = Math.max(merged.tenant, snap.spent_micros);
      merged.queries = Math.max(merged.queries, snap.query_count);
    } else {
      const table = snap.scope_type === "user" ? merged.users : merged.keys;
      table[snap.scope_id] = Math.max(table[snap.scope_id] ?? 0, snap.spent_micros);
    }
  }
  return merged;
}

const PAGE = 1000;

/**
 * Totals from PocketBase: the tenant's `usage_logs` of the period (only the four fields needed, page by page,
 * oldest first so rows written meanwhile land after the pages already read) merged with `budgets` snapshots.
 */
export function pocketBaseCounterSource(client: PocketBaseClient): CounterSource {
  return {
    async load(tenantId, period) {
      const filter = client.filter("tenant = {:tenant} && period = {:period}", { tenant: tenantId, period });
      const fromLogs = emptyTotals();
      for (let page = 1; ; page += 1) {
        const result = await client.call((pb) =>
          pb.collection("usage_logs").getList(page, PAGE, {
            filter,
            fields: "billed_micros,user,api_key,status",
            sort: "created,id",
            skipTotal: true,
          }),
        );
        addUsage(
          fromLogs,
          result.items.map((item) => UsageSlice.parse(item)),
        );
        if (result.items.length < PAGE) break;
      }
      const snapshots = await client.call((pb) =>
        pb
          .collection("budgets")
          .getFullList({ filter, fields: "scope_type,scope_id,spent_micros,query_count", batch: PAGE }),
      );
      return mergeSnapshots(
        fromLogs,
        snapshots.map((row) => BudgetSnapshot.parse(row)),
      );
    },
  };
}
