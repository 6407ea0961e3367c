import type { Hono } from "hono";
import type { BillingDeps } from "../../deps.ts";
import { handleStripeWebhook } from "../../services/stripe/handle-webhook.ts";

/** `POST /v1/stripe/webhook`: Stripe's deliveries, authenticated by their signature over the raw body. */
export function registerStripeWebhook(app: Hono, deps: BillingDeps): void {
  app.post("/v1/stripe/webhook", async (c) => {
    const raw = await c.req.text();
    const result = await handleStripeWebhook(deps, raw, c.req.header("stripe-signature"));
    return c.json({ received: true, ...result });
  });
}
