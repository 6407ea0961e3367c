import { readQuery } from "@cloudfreedom/service-kit";
import type { Hono } from "hono";
import type { BillingDeps } from "../../deps.ts";
import { listPlans } from "../../services/plans/plans.ts";
import { PlanListQuery } from "./schema.ts";

/** `GET /v1/plans`: the plans on sale; public (a pricing page needs no key). */
export function registerPlanList(app: Hono, deps: BillingDeps): void {
  app.get("/v1/plans", async (c) => {
    const query = readQuery(c, PlanListQuery);
    return c.json({ data: await listPlans(deps.db, { includeInactive: query.include_inactive === "true" }) });
  });
}
