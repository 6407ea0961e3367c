import { toPbDate } from "@cloudfreedom/db";
import type { z } from "zod";
import type { BillingDeps } from "../../deps.ts";
import { applyTenantPlan, loadTenant, planBySlug } from "../tenants/tenant-plan.ts";
import { findSubscriptionRow } from "./apply-subscription.ts";
import { type CheckoutSession, idOf } from "./webhook-payloads.ts";

/**
 * `checkout.session.completed`: map the tenant to its Stripe customer and subscription and, when the
 * subscription is not mirrored yet (its own events may arrive later), put the tenant on the bought plan now.
 * Once it is mirrored, its own events decide the plan: a checkout delivered late (after the subscription was
 * changed or cancelled) only fills in a missing customer mapping.
 */
export async function applyCheckout(
  deps: Pick<BillingDeps, "db" | "refreshTenantKeys" | "periods" | "logger">,
  session: z.infer<typeof CheckoutSession>,
  eventCreated: number,
): Promise<"applied" | "unmapped"> {
  const tenantId = session.client_reference_id ?? session.metadata?.tenant_id;
  const tenant = tenantId ? await loadTenant(deps.db, tenantId).catch(() => null) : null;
  if (!tenant) {
    deps.logger.warn({ session: session.id }, "checkout session belongs to no known tenant; ignored");
    return "unmapped";
  }
  const customer = idOf(session.customer) ?? undefined;
  const subscriptionId = idOf(session.subscription);
  const plan = session.metadata?.plan ? await planBySlug(deps.db, session.metadata.plan) : null;
  // Without a subscription to grant, or with one already mirrored (whose events decide), only the mapping.
  if (!subscriptionId || !plan || (await findSubscriptionRow(deps, subscriptionId))) {
    if (customer && !tenant.stripe_customer_id) {
      await deps.db.operator.collection("tenants").update(tenant.id, { stripe_customer_id: customer });
    }
    return "applied";
  }
  await deps.db
    .forTenant(tenant.id)
    .collection("subscriptions")
    .create({
      plan: plan.id,
      stripe_subscription_id: subscriptionId,
      stripe_customer_id: customer ?? "",
      stripe_price_id: plan.stripe_price_id,
      status: "active",
      tier: plan.tier,
      current_period_start: toPbDate(eventCreated * 1000),
      // Older than any subscription event, so the subscription's own events always win.
      last_event_at: 0,
    });
  deps.periods.forget(tenant.id);
  await applyTenantPlan(deps, tenant, plan, {
    stripe_customer_id: customer,
    stripe_subscription_id: subscriptionId,
  });
  return "applied";
}
