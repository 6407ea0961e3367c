import { createCollection, pbDateToMs } from "@cloudfreedom/db";
import { tenantKeysStale } from "@cloudfreedom/keyring";
import type { BillingDeps } from "../../deps.ts";
import { applyTenantPlan, loadTenant, planById } from "../tenants/tenant-plan.ts";
import { nextPlanAfter } from "./apply-subscription.ts";

/** Publishes a tenant's KeyRecords again when they may not carry its tier (`tenantKeysStale`). */
async function republishIfStale(
  deps: Pick<BillingDeps, "db" | "refreshTenantKeys" | "logger">,
  tenantId: string,
) {
  if (!(await tenantKeysStale(deps, tenantId))) return;
  deps.logger.warn(
    { tenant: tenantId },
    "payment grace: the tenant's keys missed its plan change; publishing again",
  );
  await deps.refreshTenantKeys(tenantId);
}

/** One listed subscription: true when its tenant was downgraded. */
async function expireOne(
  deps: Pick<BillingDeps, "db" | "refreshTenantKeys" | "logger">,
  listed: { id: string },
  now: Date,
): Promise<boolean> {
  const subscriptions = createCollection(deps.db.client, "subscriptions");
  // Read again: a payment applied since the list was read keeps the tenant on its plan.
  const row = await subscriptions.getFirst({ filter: "id = {:id}", params: { id: listed.id } });
  const grace = row ? pbDateToMs(row.grace_until) : null;
  if (row?.status !== "past_due" || grace === null || grace > now.getTime()) return false;
  const tenant = await loadTenant(deps.db, row.tenant);
  if (tenant.stripe_subscription_id && tenant.stripe_subscription_id !== row.stripe_subscription_id) {
    await republishIfStale(deps, tenant.id);
    return false;
  }
  const next = await nextPlanAfter(
    deps,
    tenant.id,
    row.stripe_subscription_id,
    await planById(deps.db, row.plan),
  );
  if (next?.successor) {
    // Another subscription of the tenant still grants a plan (the customer subscribed again): it takes over.
    await applyTenantPlan(deps, tenant, next.plan, {
      stripe_subscription_id: next.successor.stripe_subscription_id,
    });
    deps.logger.info(
      {
        tenant: tenant.id,
        plan: next.plan.slug,
        subscription: row.stripe_subscription_id,
        successor: next.successor.stripe_subscription_id,
      },
      "payment grace ended: the tenant's other subscription takes over",
    );
    return false;
  }
  if (!next) return false;
  if (tenant.plan === next.plan.id) {
    // Moved by an earlier run whose key refresh may have failed: its records may still carry the paid tier.
    await republishIfStale(deps, tenant.id);
    return false;
  }
  await applyTenantPlan(deps, tenant, next.plan);
  deps.logger.info(
    { tenant: tenant.id, plan: next.plan.slug, subscription: row.stripe_subscription_id },
    "payment grace ended: tenant downgraded",
  );
  return true;
}

/**
 * `payment_grace_expiry`: past-due subscriptions whose grace ended lose what they granted: the tenant moves
 * to the plan of another of its subscriptions that still grants one, else to its plan's downgrade target
 * (default `free`; counted), and its KeyRecords are refreshed; a tenant moved by an earlier run whose refresh
 * failed is published again (`tenantKeysStale`). Stripe keeps retrying the
 * payment; a later `invoice.paid` + `customer.subscription.updated` (active) restores the plan.
 */
export async function expirePaymentGrace(
  deps: Pick<BillingDeps, "db" | "refreshTenantKeys" | "logger">,
  now = new Date(),
): Promise<number> {
  // Across tenants: a maintenance job, the one reader of subscriptions that is not tenant-scoped.
  const expired = await createCollection(deps.db.client, "subscriptions").listAll({
    filter: "status = 'past_due' && grace_until != '' && grace_until <= {:now}",
    // Oldest first: the order is the same every run.
    sort: "created,id",
    // Stored dates read "2026-11-23 10:00:00.000Z": compare in that format, not ISO's "T".
    params: { now: now.toISOString().replace("T", " ") },
  });
  let downgraded = 0;
  const failures: unknown[] = [];
  // One tenant that fails (a key refresh, a plan gone) must not hold back the others: each is tried, and the
  // run fails afterwards so the job is retried and the failure seen.
  for (const listed of expired) {
    try {
      if (await expireOne(deps, listed, now)) downgraded += 1;
    } catch (error) {
      failures.push(error);
      deps.logger.warn(
        { err: error, subscription: listed.id },
        "payment grace: could not handle a subscription",
      );
    }
  }
  if (failures.length > 0)
    throw new Error(
      `payment grace: ${failures.length} of ${expired.length} subscriptions failed (${String(failures[0])}); ${downgraded} downgraded`,
    );
  return downgraded;
}
