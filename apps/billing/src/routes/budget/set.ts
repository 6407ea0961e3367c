import { readJson } from "@cloudfreedom/service-kit";
import type { Hono } from "hono";
import type { BillingDeps } from "../../deps.ts";
import { requireManager, tenantOf } from "../../services/auth/principal.ts";
import { setBudget } from "../../services/budgets/set-budget.ts";
import { SetBudgetBody } from "./schema.ts";

/** `PUT /v1/budgets`: owners, admins and operators set a standing budget for the tenant, a user or a key. */
export function registerBudgetSet(app: Hono, deps: BillingDeps): void {
  app.put("/v1/budgets", async (c) => {
    const principal = c.get("principal");
    requireManager(principal);
    const body = await readJson(c, SetBudgetBody);
    const row = await setBudget(deps, {
      tenantId: tenantOf(principal, body.tenant_id),
      scopeType: body.scope_type,
      scopeId: body.scope_id ?? null,
      limitMicros: body.limit_micros,
      byOperator: principal.kind === "operator",
    });
    return c.json({
      tenant_id: row.tenant,
      scope_type: row.scope_type,
      scope_id: row.scope_id,
      limit_micros: row.limit_micros === 0 ? null : row.limit_micros,
    });
  });
}
