import { type PeriodId, redisKeys } from "@cloudfreedom/shared";

/**
 * Every admission key of a tenant carries the hash tag `{t:<tenant>}`, so one script touches one Cluster slot.
 * The scripts derive some names from `prefix` (a reservation remembers its period and key), which is why the
 * layout lives here and nowhere else.
 *
 * - `budget:<period>`   hash: `spent:<scope>`, `rsv:<scope>` (scope `tenant`, `user:<id>`, `key:<id>`),
 *                        `queries`, and `seeded` (set once the counters were rebuilt from PocketBase).
 * - `rate:tenant`, `rate:key:<id>`  hash: sliding-window state (`w`, `rc`, `rp`, `tc`, `tp`).
 * - `rsv:due`           sorted set of open holds `id|period|amount|tokens|window|user|key|limiters`, scored
 *                        by deadline (ms): settlement removes a hold, the reaper releases the ones past due.
 * - `settled:<bucket>`  set of settled reservation ids per time bucket (width = retention), expiring whole.
 * - `seed-lock:<period>` the single-flight lock of a reseed.
 */
export const admissionKeys = {
  prefix: (tenantId: string) => redisKeys.tenant(tenantId, ""),
  period: (tenantId: string, period: PeriodId) => redisKeys.tenant(tenantId, "budget", period),
  due: (tenantId: string) => redisKeys.tenant(tenantId, "rsv", "due"),
  tenantRate: (tenantId: string) => redisKeys.tenant(tenantId, "rate", "tenant"),
  keyRate: (tenantId: string, keyId: string) => redisKeys.tenant(tenantId, "rate", "key", keyId),
  seedLock: (tenantId: string, period: PeriodId) => redisKeys.tenant(tenantId, "seed-lock", period),
} as const;

/** `SCAN MATCH` pattern of every tenant's due set, and the tenant id inside a match. */
export const DUE_PATTERN = "cf:{t:*}:rsv:due";
export function tenantOfDueKey(key: string): string | null {
  const match = /^cf:\{t:([^}]+)\}:rsv:due$/.exec(key);
  return match?.[1] ?? null;
}

/** Field names inside the period hash. */
export const periodFields = {
  spent: (scope: ScopeRef) => `spent:${scopeField(scope)}`,
  reserved: (scope: ScopeRef) => `rsv:${scopeField(scope)}`,
  queries: "queries",
  seeded: "seeded",
} as const;

export type BudgetScope = "tenant" | "user" | "key";
export interface ScopeRef {
  scope: BudgetScope;
  id: string;
}

function scopeField(ref: ScopeRef): string {
  return ref.scope === "tenant" ? "tenant" : `${ref.scope}:${ref.id}`;
}
