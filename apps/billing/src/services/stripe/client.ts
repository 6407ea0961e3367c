import { AppError } from "@cloudfreedom/shared";
import Stripe from "stripe";
import type { BillingDeps } from "../../deps.ts";
import type { BillingEnv } from "../../env.ts";

/** The Stripe client, or null when no secret key is configured. `STRIPE_API_BASE` points it at stripe-mock. */
export function createStripeClient(env: BillingEnv): Stripe | null {
  if (!env.STRIPE_SECRET_KEY) return null;
  const base = env.STRIPE_API_BASE ? new URL(env.STRIPE_API_BASE) : null;
  return new Stripe(env.STRIPE_SECRET_KEY, {
    maxNetworkRetries: 2,
    timeout: 20_000,
    appInfo: { name: "cloudfreedom-billing" },
    ...(base
      ? {
          host: base.hostname,
          port: base.port || (base.protocol === "https:" ? "443" : "80"),
          protocol: base.protocol === "https:" ? "https" : "http",
        }
      : {}),
  });
}

export function requireStripe(deps: Pick<BillingDeps, "stripe">): Stripe {
  if (!deps.stripe) {
    throw new AppError(
      "service_unavailable",
      "Stripe is not configured on this platform (STRIPE_SECRET_KEY)",
    );
  }
  return deps.stripe;
}
