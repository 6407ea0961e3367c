import { type Db, planFromRow, planToRow } from "@cloudfreedom/db";
import { AppError, type Plan } from "@cloudfreedom/shared";
import type { BillingDeps } from "../../deps.ts";
import { planBySlug } from "../tenants/tenant-plan.ts";
import { refreshPlanTenants } from "./refresh-plan-tenants.ts";

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
 * An operator's edit of a plan. Tier and limits travel inside every KeyRecord, so the plan's subscriptions take
 * its tier and each tenant on the plan gets its KeyRecords (and the tier on its row) refreshed before this
 * answers; tenants keep the plan, only its terms change.
 */
export async function updatePlan(
  deps: Pick<BillingDeps, "db" | "refreshTenantKeys" | "logger">,
  slug: string,
  changes: PlanChanges,
): Promise<Plan> {
  const row = await planBySlug(deps.db, slug);
  if (!row) throw new AppError("not_found", `No plan "${slug}"`, { field: "slug" });
  const merged = { ...planFromRow(row), ...changes, slug };
  if (merged.stripe_overage_price_id && merged.stripe_overage_price_id === merged.stripe_price_id)
    throw new AppError(
      "invalid_request",
      "stripe_overage_price_id must be a metered price on the billing meter, not the plan's own stripe_price_id",
      { field: "stripe_overage_price_id" },
    );
  const { slug: _unchanged, ...update } = planToRow(merged);
  const saved = await deps.db.operator.collection("plans").update(row.id, update);
  const refresh = await refreshPlanTenants(deps, saved);
  deps.logger.info(
    { plan: slug, ...(row.tier !== saved.tier ? { from: row.tier, to: saved.tier } : {}), ...refresh },
    "plan updated; its tenants' keys refreshed",
  );
  if (refresh.failed > 0)
    throw new AppError(
      "service_unavailable",
      `The plan was saved, but ${refresh.failed} of its tenants or subscriptions could not be brought to it; send the PATCH again to retry them`,
      { ...refresh },
    );
  return planFromRow(saved);
}
