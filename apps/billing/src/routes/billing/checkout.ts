import { readJson } from "@cloudfreedom/service-kit";
import type { Hono } from "hono";
import type { BillingDeps } from "../../deps.ts";
import { requireManager, tenantOf } from "../../services/auth/principal.ts";
import { createCheckout } from "../../services/stripe/create-checkout.ts";
import { CheckoutBody } from "./schema.ts";

/** `POST /v1/billing/checkout`: a Stripe Checkout session for a plan; the client redirects to `url`. */
export function registerCheckout(app: Hono, deps: BillingDeps): void {
  app.post("/v1/billing/checkout", async (c) => {
    const principal = c.get("principal");
    requireManager(principal);
    const body = await readJson(c, CheckoutBody);
    const session = await createCheckout(deps, {
      tenantId: tenantOf(principal, body.tenant_id),
      planSlug: body.plan,
      successUrl: body.success_url,
      cancelUrl: body.cancel_url,
    });
    return c.json(session, 201);
  });
}
