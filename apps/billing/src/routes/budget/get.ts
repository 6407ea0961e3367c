import { readQuery } from "@cloudfreedom/service-kit";
import type { Hono } from "hono";
import type { BillingDeps } from "../../deps.ts";
import { type Principal, requireManager, tenantOf } from "../../services/auth/principal.ts";
import { readBudget } from "../../services/budgets/read-budget.ts";
import { BudgetQuery } from "./schema.ts";

/** Whose user and key scopes to show: the caller's own, or (managers, operators) the ones asked for. */
function scopesFor(
  principal: Principal,
  query: { key_id?: string | undefined; user_id?: string | undefined },
) {
  const own = {
    keyId: principal.kind === "key" ? principal.keyId : null,
    userId: principal.kind === "operator" ? null : principal.userId,
  };
  const other =
    (query.key_id && query.key_id !== own.keyId) || (query.user_id && query.user_id !== own.userId);
  if (other) requireManager(principal);
  return { keyId: query.key_id ?? own.keyId, userId: query.user_id ?? own.userId };
}

/** `GET /v1/budget`: limit, spent, reserved and remaining per scope for the current period. */
export function registerBudgetGet(app: Hono, deps: BillingDeps): void {
  app.get("/v1/budget", async (c) => {
    const principal = c.get("principal");
    const query = readQuery(c, BudgetQuery);
    const tenantId = tenantOf(principal, query.tenant_id);
    return c.json(
      await readBudget(deps, {
        tenantId,
        ...scopesFor(principal, query),
        asked: { userId: query.user_id, keyId: query.key_id },
      }),
    );
  });
}
