import type { BudgetRow, Db } from "@cloudfreedom/db";

/** Standing limits (set by owners or operators) live in `budgets` rows of this pseudo-period. */
export const STANDING_PERIOD = "default";

export type BudgetScopeType = BudgetRow["scope_type"];

/**
 * A tenant's standing budget limits in micros; absent = no limit of its own. A key's limit is not here: it is
 * the key's own `api_keys.budget_micros` (which `PUT /v1/budgets` writes too), what its KeyRecord carries.
 */
export interface StandingLimits {
  /** null = the plan's monthly budget applies. */
  tenant: number | null;
  users: Map<string, number>;
}

/**
 * A tenant's standing limits; 0 in a row means "no limit of its own". Billing's budget check and budget view
 * read them here, and the KeyRecords the router admits with are built from them, so both enforce one limit.
 */
export async function loadStandingLimits(db: Db, tenantId: string): Promise<StandingLimits> {
  const rows = await db
    .forTenant(tenantId)
    .collection("budgets")
    .listAll({ filter: "period = {:period}", params: { period: STANDING_PERIOD } });
  const limits: StandingLimits = { tenant: null, users: new Map() };
  for (const row of rows) {
    if (row.limit_micros === 0) continue;
    if (row.scope_type === "tenant") limits.tenant = row.limit_micros;
    else if (row.scope_type === "user") limits.users.set(row.scope_id, row.limit_micros);
  }
  return limits;
}
