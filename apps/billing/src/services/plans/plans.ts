import { type Db, planFromRow, planToRow } from "@cloudfreedom/db";
import { AppError, type Plan } from "@cloudfreedom/shared";
import type { BillingDeps } from "../../deps.ts";
import { planBySlug } from "../tenants/tenant-plan.ts";

/** Active plans, cheapest first (the pricing page, the admin portal's upgrade screen). */
export async function listPlans(db: Db, options: { includeInactive?: boolean } = {}): Promise<Plan[]> {
  const rows = await db.operator
    .collection("plans")
    .listAll(
      options.includeInactive
        ? { sort: "price_micros,slug" }
        : { filter: "is_active = true", sort: "price_micros,slug" },
    );
  return rows.map(planFromRow);
}

export type PlanChanges = Partial<Omit<Plan, "slug">>;

/**
 * An operator's edit of a plan. Limits travel inside every KeyRecord, so each tenant on the plan gets its
 * KeyRecords refreshed; tenants keep the plan, only its terms change.
 */
export async function updatePlan(
  deps: Pick<BillingDeps, "db" | "refreshTenantKeys" | "logger">,
  slug: string,
  changes: PlanChanges,
): Promise<Plan> {
  const row = await planBySlug(deps.db, slug);
  if (!row) throw new AppError("not_found", `No plan "${slug}"`, { field: "slug" });
  const merged = { ...planFromRow(row), ...changes, slug };
  const { slug: _unchanged, ...update } = planToRow(merged);
  const saved = await deps.db.operator.collection("plans").update(row.id, update);
  const tenants = await deps.db.operator
    .collection("tenants")
    .listAll({ filter: "plan = {:plan}", params: { plan: row.id } });
  for (const tenant of tenants) {
    try {
      await deps.refreshTenantKeys(tenant.id);
    } catch (error) {
      deps.logger.warn(
        { err: error, tenant: tenant.id },
        "could not refresh a tenant's keys after a plan change",
      );
    }
  }
  return planFromRow(saved);
}
