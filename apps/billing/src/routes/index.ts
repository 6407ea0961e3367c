import { routeExists } from "@cloudfreedom/service-kit";
import type { Hono } from "hono";
import type { BillingDeps } from "../deps.ts";
import { type AuthOptions, billingAuth } from "./auth.ts";
import { registerCheckout } from "./billing/checkout.ts";
import { registerPortal } from "./billing/portal.ts";
import { registerBudgetCheck } from "./budget/check.ts";
import { registerBudgetGet } from "./budget/get.ts";
import { registerBudgetSet } from "./budget/set.ts";
import { registerPlanList } from "./plans/list.ts";
import { registerPlanUpdate } from "./plans/update.ts";
import { registerStripeWebhook } from "./stripe/webhook.ts";
import { registerUsageCreate } from "./usage/create.ts";
import { registerUsageList } from "./usage/list.ts";
import { registerUsageSummary } from "./usage/summary.ts";

/** Public routes first (plans, Stripe's signed webhook), then everything behind billing authentication. */
export function registerBillingRoutes(app: Hono, deps: BillingDeps, options: AuthOptions = {}): void {
  registerPlanList(app, deps);
  registerStripeWebhook(app, deps);

  const auth = billingAuth(deps, options);
  // An unknown path or method answers 404 / 405 without asking for credentials first, as the other services do.
  const routed = routeExists(app);
  for (const path of [
    "/v1/budget",
    "/v1/budget/*",
    "/v1/budgets",
    "/v1/usage",
    "/v1/usage/*",
    "/v1/plans/*",
    "/v1/billing/*",
  ]) {
    app.use(path, (c, next) => (routed(c.req.method, c.req.path) ? auth(c, next) : next()));
  }
  registerBudgetCheck(app, deps);
  registerBudgetGet(app, deps);
  registerBudgetSet(app, deps);
  registerUsageCreate(app, deps);
  registerUsageList(app, deps);
  registerUsageSummary(app, deps);
  registerPlanUpdate(app, deps);
  registerCheckout(app, deps);
  registerPortal(app, deps);
}
