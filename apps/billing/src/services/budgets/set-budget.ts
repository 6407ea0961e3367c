import type { BudgetRow, Db } from "@cloudfreedom/db";
import { type BudgetScopeType, resolveTier, STANDING_PERIOD } from "@cloudfreedom/keyring";
import { AppError, formatMicros, isAppError } from "@cloudfreedom/shared";
import type { BillingDeps } from "../../deps.ts";
import { loadTenant, planById } from "../tenants/tenant-plan.ts";

export interface SetBudgetInput {
  tenantId: string;
  scopeType: BudgetScopeType;
  /** The user or key id; ignored for the tenant scope. */
  scopeId: string | null;
  /** Micro-units per period; null removes the limit (the plan's included budget applies to the tenant). */
  limitMicros: number | null;
  /** Operators may raise a tenant's budget past what its plan includes without a subscription (a contract). */
  byOperator: boolean;
}

/**
 * A tenant's own managers raise its budget past what its plan includes only while a subscription bills the
 * overage: the tenant's tier comes from a subscription, and its plan has a metered overage price (checkout
 * subscribes to it, so the Stripe meter events are invoiced). Without both the spend above the plan would be
 * given away.
 */
async function assertOverageBillable(deps: Pick<BillingDeps, "db">, input: SetBudgetInput): Promise<void> {
  if (input.byOperator || input.scopeType !== "tenant" || !input.limitMicros) return;
  const tenant = await loadTenant(deps.db, input.tenantId);
  const plan = await planById(deps.db, tenant.plan);
  const included = plan?.monthly_budget_micros ?? 0;
  if (included === 0 || input.limitMicros <= included) return;
  const { source } = await resolveTier({ db: deps.db, tenantId: tenant.id, tenant });
  if (source === "fallback")
    throw new AppError("service_unavailable", "Could not read the tenant's subscription; retry shortly");
  if (source === "subscription" && !plan?.stripe_overage_price_id)
    throw new AppError(
      "forbidden",
      `limit_micros: above the ${plan?.currency ?? ""} ${formatMicros(included)} the plan includes, spend is billed as overage, but the plan "${plan?.slug}" has no overage price (stripe_overage_price_id); set at most ${included}, or ask an operator`,
      { field: "limit_micros", included_micros: included },
    );
  if (source === "subscription") return;
  throw new AppError(
    "forbidden",
    `limit_micros: above the ${plan?.currency ?? ""} ${formatMicros(included)} the plan includes, spend is billed as overage, which needs a paid subscription; subscribe (POST /v1/billing/checkout), set at most ${included}, or ask an operator`,
    { field: "limit_micros", included_micros: included },
  );
}

/** The scope must belong to the tenant: another tenant's user or key looks absent. */
async function assertScopeInTenant(db: Db, input: SetBudgetInput): Promise<string> {
  if (input.scopeType === "tenant") {
    // A tenant budget is the caller's tenant's: one naming another (or anything else) is refused, not
    // applied to the caller's own tenant.
    if (input.scopeId && input.scopeId !== input.tenantId)
      throw new AppError(
        "not_found",
        `No tenant ${input.scopeId} here: a tenant budget is set on your own tenant`,
        {
          field: "scope_id",
        },
      );
    return input.tenantId;
  }
  if (!input.scopeId) {
    throw new AppError("validation_failed", "scope_id: required for user and key budgets", {
      field: "scope_id",
    });
  }
  const scoped = db.forTenant(input.tenantId);
  const found =
    input.scopeType === "key"
      ? await scoped.collection("api_keys").getFirst({ filter: "id = {:id}", params: { id: input.scopeId } })
      : await scoped
          .collection("memberships")
          .getFirst({ filter: "user = {:id}", params: { id: input.scopeId } });
  if (!found)
    throw new AppError("not_found", `No ${input.scopeType} ${input.scopeId} in this tenant`, {
      field: "scope_id",
    });
  return input.scopeId;
}

/**
 * Sets a standing budget for a tenant, user or key. A key's limit is also written to its `api_keys` row
 * (where its KeyRecord is built from); then the tenant's KeyRecords are rebuilt (packages/keyring reads the
 * standing limits written here) and routers told, so the router's admission enforces it at once.
 */
export async function setBudget(
  deps: Pick<BillingDeps, "db" | "refreshTenantKeys">,
  input: SetBudgetInput,
): Promise<BudgetRow> {
  const scopeId = await assertScopeInTenant(deps.db, input);
  await assertOverageBillable(deps, input);
  const budgets = deps.db.forTenant(input.tenantId).collection("budgets");
  const filter = {
    filter: "scope_type = {:type} && scope_id = {:id} && period = {:period}",
    params: { type: input.scopeType, id: scopeId, period: STANDING_PERIOD },
  };
  const limit = input.limitMicros ?? 0;
  const fields = { limit_micros: limit, set_by_operator: input.byOperator };
  const existing = await budgets.getFirst(filter);
  let row: BudgetRow;
  if (existing) row = await budgets.update(existing.id, fields);
  else {
    try {
      row = await budgets.create({
        scope_type: input.scopeType,
        scope_id: scopeId,
        period: STANDING_PERIOD,
        ...fields,
      });
    } catch (error) {
      const raced = isAppError(error) && error.code === "conflict" ? await budgets.getFirst(filter) : null;
      if (!raced) throw error;
      row = await budgets.update(raced.id, fields);
    }
  }
  if (input.scopeType === "key") {
    await deps.db.forTenant(input.tenantId).collection("api_keys").update(scopeId, { budget_micros: limit });
  }
  await deps.refreshTenantKeys(input.tenantId);
  return row;
}
