import { parseWith, readJson } from "@cloudfreedom/service-kit";
import type { Hono } from "hono";
import type { BillingDeps } from "../../deps.ts";
import { requireTenantCaller } from "../../services/auth/principal.ts";
import { logUsage } from "../../services/usage/log-usage.ts";
import { IdempotencyKey, UsageReportBody } from "./schema.ts";

/** `POST /v1/usage`: 202 once the event is queued; the billing worker persists it (exactly once by event id). */
export function registerUsageCreate(app: Hono, deps: BillingDeps): void {
  app.post("/v1/usage", async (c) => {
    const principal = requireTenantCaller(c.get("principal"));
    const key = parseWith(IdempotencyKey, c.req.header("idempotency-key"), "idempotency-key");
    const report = await readJson(c, UsageReportBody);
    const { event, replayed } = await logUsage(deps, principal, report, key);
    return c.json(
      {
        status: "accepted",
        replayed,
        event_id: event.event_id,
        period: event.period,
        cost_micros: event.cost_micros,
        billed_micros: event.billed_micros,
      },
      202,
    );
  });
}
