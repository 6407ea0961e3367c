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

/**
 * A Stripe failure as the platform's error, saying Stripe is the problem and whether to retry: unreachable,
 * overloaded or failing → 503 (retry shortly); the platform's key refused → 503 for the operator to fix;
 * anything else Stripe refused (a price it does not know) → 502 with Stripe's message. Others pass unchanged.
 */
export function stripeFailure(error: unknown): unknown {
  if (!(error instanceof Stripe.errors.StripeError)) return error;
  const details = {
    provider: "stripe",
    stripe_type: error.type,
    ...(error.code ? { stripe_code: error.code } : {}),
  };
  if (
    error instanceof Stripe.errors.StripeAuthenticationError ||
    error instanceof Stripe.errors.StripePermissionError
  )
    return new AppError(
      "service_unavailable",
      "Stripe refused this platform's API key; the operator must fix STRIPE_SECRET_KEY",
      details,
    );
  if (
    error instanceof Stripe.errors.StripeConnectionError ||
    error instanceof Stripe.errors.StripeRateLimitError ||
    error instanceof Stripe.errors.StripeAPIError ||
    (error.statusCode ?? 0) >= 500
  )
    return new AppError(
      "service_unavailable",
      `Stripe could not be reached or failed (${error.message}); retry shortly`,
      details,
    );
  return new AppError("upstream_error", `Stripe refused the request: ${error.message}`, details);
}

/** `work` with its Stripe failures told as `stripeFailure` says. */
export async function callStripe<T>(work: Promise<T>): Promise<T> {
  try {
    return await work;
  } catch (error) {
    throw stripeFailure(error);
  }
}
