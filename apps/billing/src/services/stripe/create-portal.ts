import { AppError } from "@cloudfreedom/shared";
import type { BillingDeps } from "../../deps.ts";
import { loadTenant } from "../tenants/tenant-plan.ts";
import { callStripe, requireStripe } from "./client.ts";
import { returnUrl } from "./create-checkout.ts";

/** A Stripe customer portal session (invoices, payment methods, cancel) for a tenant that has a customer. */
export async function createPortal(
  deps: Pick<BillingDeps, "db" | "stripe" | "env">,
  input: { tenantId: string; returnUrl?: string | undefined },
): Promise<{ id: string; url: string }> {
  const stripe = requireStripe(deps);
  const tenant = await loadTenant(deps.db, input.tenantId);
  if (!tenant.stripe_customer_id) {
    throw new AppError(
      "not_found",
      "This tenant has no Stripe customer yet; subscribe through checkout first",
    );
  }
  const session = await callStripe(
    stripe.billingPortal.sessions.create({
      customer: tenant.stripe_customer_id,
      return_url: input.returnUrl ?? returnUrl(deps),
    }),
  );
  return { id: session.id, url: session.url };
}
