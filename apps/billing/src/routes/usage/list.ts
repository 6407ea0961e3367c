import { readQuery } from "@cloudfreedom/service-kit";
import type { Hono } from "hono";
import type { BillingDeps } from "../../deps.ts";
import { tenantOf } from "../../services/auth/principal.ts";
import { listUsage } from "../../services/usage/list-usage.ts";
import { UsageListQuery } from "./schema.ts";

/** `GET /v1/usage`: the tenant's usage logs, newest first, paginated and filterable. */
export function registerUsageList(app: Hono, deps: BillingDeps): void {
  app.get("/v1/usage", async (c) => {
    const { tenant_id, ...query } = readQuery(c, UsageListQuery);
    return c.json(await listUsage(deps.db, tenantOf(c.get("principal"), tenant_id), query));
  });
}
