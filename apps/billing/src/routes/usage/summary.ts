import { readQuery } from "@cloudfreedom/service-kit";
import type { Hono } from "hono";
import type { BillingDeps } from "../../deps.ts";
import { tenantOf } from "../../services/auth/principal.ts";
import { summarizeUsage } from "../../services/usage/summarize-usage.ts";
import { usageSummaryCsv } from "../../services/usage/usage-csv.ts";
import { SummaryQuery } from "./schema.ts";

/** `GET /v1/usage/summary`: totals by model, key and day for a period; CSV with `?format=csv` or `Accept: text/csv`. */
export function registerUsageSummary(app: Hono, deps: BillingDeps): void {
  app.get("/v1/usage/summary", async (c) => {
    const query = readQuery(c, SummaryQuery);
    const tenantId = tenantOf(c.get("principal"), query.tenant_id);
    const period = query.period ?? (await deps.periods.current(tenantId)).period;
    const summary = await summarizeUsage(deps.db, tenantId, period);
    const csv =
      query.format === "csv" ||
      (query.format === undefined && (c.req.header("accept") ?? "").includes("text/csv"));
    if (!csv) return c.json(summary);
    c.header("content-type", "text/csv; charset=utf-8");
    c.header("content-disposition", `attachment; filename="usage-${period}.csv"`);
    return c.body(usageSummaryCsv(summary));
  });
}
