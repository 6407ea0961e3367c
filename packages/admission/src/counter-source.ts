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

/** One row of the `usage_period_totals` view: a period's logs of one key and user, summed in SQL. */
const PeriodSlice = z.object({
  /** `tenant:period:api_key:user`: one per pair. */
  id: z.string(),
  api_key: z.string(),
  user: z.string(),
  billed_micros: z.number().int().nonnegative(),
  /** Requests that count as queries: all but errors that cost nothing (they gave their query back). */
  queries: z.number().int().nonnegative(),
});
type PeriodSlice = z.infer<typeof PeriodSlice>;

const BudgetSnapshot = z.object({
  scope_type: z.enum(["tenant", "user", "key"]),
  scope_id: z.string(),
  spent_micros: z.number().int().nonnegative(),
  query_count: z.number().int().nonnegative(),
});
type BudgetSnapshot = z.infer<typeof BudgetSnapshot>;

/** Adds per-key-and-user sums of usage to the totals of their scopes. */
export function addPeriodSlices(totals: PeriodTotals, slices: Iterable<PeriodSlice>): PeriodTotals {
  for (const slice of slices) {
    totals.tenant += slice.billed_micros;
    if (slice.user) totals.users[slice.user] = (totals.users[slice.user] ?? 0) + slice.billed_micros;
    if (slice.api_key) totals.keys[slice.api_key] = (totals.keys[slice.api_key] ?? 0) + slice.billed_micros;
    totals.queries += slice.queries;
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
 * Totals from PocketBase: the tenant's period summed by SQL in the `usage_period_totals` view (one row per key
 * and user pair; one page unless a period has more than 1,000 pairs), merged with the `budgets` snapshots.
 * Reading the logs themselves page by page made a reseed quadratic in the period's rows: 49 s for 100,000
 * of them, and admission waits for it.
 *
 * Pages are separate statements: a pair first seen while they are read shifts the later rows by one, so the
 * next page can repeat a row already read. Rows are taken once by their id (`tenant:period:key:user`); pairs
 * are never removed within a period, so a shift can only repeat a row, never hide one read before. A pair
 * that appears during the read may be missed, as a log written just after it would be: never counted twice.
 */
export function pocketBaseCounterSource(client: PocketBaseClient): CounterSource {
  return {
    async load(tenantId, period) {
      const filter = client.filter("tenant = {:tenant} && period = {:period}", { tenant: tenantId, period });
      const [slices, snapshots] = await Promise.all([
        client.call((pb) =>
          pb.collection("usage_period_totals").getFullList({
            filter,
            fields: "id,api_key,user,billed_micros,queries",
            sort: "id",
            batch: PAGE,
          }),
        ),
        client.call((pb) =>
          pb
            .collection("budgets")
            .getFullList({ filter, fields: "scope_type,scope_id,spent_micros,query_count", batch: PAGE }),
        ),
      ]);
      const unique = new Map<string, PeriodSlice>();
      for (const row of slices) {
        const slice = PeriodSlice.parse(row);
        if (!unique.has(slice.id)) unique.set(slice.id, slice);
      }
      return mergeSnapshots(
        addPeriodSlices(emptyTotals(), unique.values()),
        snapshots.map((row) => BudgetSnapshot.parse(row)),
      );
    },
  };
}
