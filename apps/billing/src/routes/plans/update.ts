import { readJson, readParams } from "@cloudfreedom/service-kit";
import type { Hono } from "hono";
import type { BillingDeps } from "../../deps.ts";
import { requireOperator } from "../../services/auth/principal.ts";
import { updatePlan } from "../../services/plans/plans.ts";
import { PlanParams, PlanUpdateBody } from "./schema.ts";

/** `PATCH /v1/plans/:slug`: operators edit a plan; tenants on it get their KeyRecords refreshed. */
export function registerPlanUpdate(app: Hono, deps: BillingDeps): void {
  app.patch("/v1/plans/:slug", async (c) => {
    requireOperator(c.get("principal"));
    const { slug } = readParams(c, PlanParams);
    return c.json(await updatePlan(deps, slug, await readJson(c, PlanUpdateBody)));
  });
}
