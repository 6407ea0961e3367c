import type { Db, PlanRow } from "@cloudfreedom/db";
import { STANDING_PERIOD } from "@cloudfreedom/keyring";

/**
 * The tenant moved to `plan`: a standing tenant budget its own managers set above what the plan includes lasted
 * only while a subscription billed the overage (`assertOverageBillable`). On a plan that bills none it is
 * removed (the plan's included budget applies again) and the removal audited; an operator's (a contract) stays,
 * and so do those stored before `set_by_operator` existed (migration 1767227100 marks them).
 */
export async function dropUnbilledTenantBudget(db: Db, tenantId: string, plan: PlanRow): Promise<boolean> {
  const included = plan.monthly_budget_micros;
  if (plan.stripe_overage_price_id || included === 0) return false;
  const scoped = db.forTenant(tenantId);
  const row = await scoped.collection("budgets").getFirst({
    filter: "scope_type = 'tenant' && period = {:period}",
    params: { period: STANDING_PERIOD },
  });
  if (!row || row.set_by_operator || row.limit_micros <= included) return false;
  await scoped.collection("budgets").update(row.id, { limit_micros: 0 });
  await scoped.collection("audit_logs").create({
    actor_type: "system",
    actor_id: "billing",
    action: "budget.removed",
    target_type: "tenant",
    target_id: tenantId,
    outcome: "success",
    metadata: {
      limit_micros: row.limit_micros,
      plan: plan.slug,
      included_micros: included,
      reason: "overage no longer billed",
    },
  });
  return true;
}
