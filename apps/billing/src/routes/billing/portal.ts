import { readJson } from "@cloudfreedom/service-kit";
import type { Hono } from "hono";
import type { BillingDeps } from "../../deps.ts";
import { requireManager, tenantOf } from "../../services/auth/principal.ts";
import { createPortal } from "../../services/stripe/create-portal.ts";
import { PortalBody } from "./schema.ts";

/** `POST /v1/billing/portal`: a Stripe customer portal session (invoices, payment method, cancellation). */
export function registerPortal(app: Hono, deps: BillingDeps): void {
  app.post("/v1/billing/portal", async (c) => {
    const principal = c.get("principal");
    requireManager(principal);
    const body = await readJson(c, PortalBody);
    return c.json(
      await createPortal(deps, { tenantId: tenantOf(principal, body.tenant_id), returnUrl: body.return_url }),
      201,
    );
  });
}
