import { readJson } from "@cloudfreedom/service-kit";
import type { Hono } from "hono";
import type { BillingDeps } from "../../deps.ts";
import { requireTenantCaller } from "../../services/auth/principal.ts";
import { checkBudget } from "../../services/budgets/check-budget.ts";
import { BudgetCheckBody } from "./schema.ts";

/** `POST /v1/budget/check`: 200 when admitted (optionally holding a reservation), else the router's denial. */
export function registerBudgetCheck(app: Hono, deps: BillingDeps): void {
  app.post("/v1/budget/check", async (c) => {
    const principal = requireTenantCaller(c.get("principal"));
    const body = await readJson(c, BudgetCheckBody);
    return c.json(await checkBudget(deps, principal, body));
  });
}
