import type { TenantRow } from "@cloudfreedom/db";
import type { BillingDeps } from "../../deps.ts";
import { requireStripe } from "./client.ts";

/**
 * The tenant's Stripe customer (tenant ↔ customer mapping on `tenants.stripe_customer_id`), created on first
 * use. The idempotency key makes two concurrent first checkouts create one customer.
 */
export async function ensureCustomer(
  deps: Pick<BillingDeps, "db" | "stripe">,
  tenant: TenantRow,
): Promise<string> {
  if (tenant.stripe_customer_id) return tenant.stripe_customer_id;
  const stripe = requireStripe(deps);
  const customer = await stripe.customers.create(
    { name: tenant.name, metadata: { tenant_id: tenant.id, tenant_slug: tenant.slug } },
    { idempotencyKey: `cf-customer-${tenant.id}` },
  );
  await deps.db.operator.collection("tenants").update(tenant.id, { stripe_customer_id: customer.id });
  return customer.id;
}
