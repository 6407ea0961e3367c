import {
  createCollection,
  type PlanRow,
  type SubscriptionRow,
  type TenantRow,
  toPbDate,
} from "@cloudfreedom/db";
import type { BillingDeps } from "../../deps.ts";
import {
  applyTenantPlan,
  fallbackPlan,
  loadTenant,
  planById,
  planBySlug,
  planByStripePrice,
} from "../tenants/tenant-plan.ts";
import { idOf, type Subscription, subscriptionTerms } from "./webhook-payloads.ts";

export type SubscriptionDeps = Pick<BillingDeps, "db" | "refreshTenantKeys" | "periods" | "logger">;

/** Statuses that end what the subscription granted: the tenant falls back to its plan's downgrade target. */
const ENDED = new Set<SubscriptionRow["status"]>(["canceled", "unpaid", "incomplete_expired", "paused"]);
const GRANTING = new Set<SubscriptionRow["status"]>(["active", "trialing"]);
/** Statuses of a subscription that still bills: the tenant has one and buys no second. */
export const LIVE = new Set<SubscriptionRow["status"]>(["active", "trialing", "past_due"]);
/** Statuses a Stripe subscription never leaves. */
const FINAL = new Set<SubscriptionRow["status"]>(["canceled", "incomplete_expired"]);

const seconds = (value: number | null | undefined): string => (value ? toPbDate(value * 1000) : "");

/** The subscription row by Stripe id, whatever its tenant (the tenant-resolving index of subscriptions). */
export function findSubscriptionRow(
  deps: Pick<BillingDeps, "db">,
  stripeId: string,
): Promise<SubscriptionRow | null> {
  return createCollection(deps.db.client, "subscriptions").getFirst({
    filter: "stripe_subscription_id = {:id}",
    params: { id: stripeId },
  });
}

async function tenantFor(
  deps: SubscriptionDeps,
  sub: Subscription,
  row: SubscriptionRow | null,
): Promise<TenantRow | null> {
  const byMetadata = sub.metadata?.tenant_id;
  if (byMetadata) return loadTenant(deps.db, byMetadata).catch(() => null);
  if (row) return loadTenant(deps.db, row.tenant).catch(() => null);
  const customer = idOf(sub.customer);
  if (!customer) return null;
  return deps.db.operator
    .collection("tenants")
    .getFirst({ filter: "stripe_customer_id = {:customer}", params: { customer } });
}

export type SubscriptionOutcome = "applied" | "stale" | "unmapped";

/** The newest other subscription of the tenant that still grants a plan, if any. */
async function grantingSubscription(
  deps: Pick<BillingDeps, "db">,
  tenantId: string,
  except: string,
): Promise<SubscriptionRow | null> {
  const rows = await deps.db.forTenant(tenantId).collection("subscriptions").listAll({
    filter: "stripe_subscription_id != {:except}",
    params: { except },
    sort: "-current_period_start",
  });
  return rows.find((row) => GRANTING.has(row.status) && row.plan) ?? null;
}

/** Where a tenant goes when a subscription stops granting: another one's plan, else a downgrade. */
export type NextPlan = { plan: PlanRow; successor: SubscriptionRow | null };

/**
 * The plan a tenant moves to when its subscription `ended` no longer grants (it ended, or its payment grace
 * ran out): that of its newest other subscription that still grants one, else the downgrade target of `from`
 * (`successor` null). Null when neither exists.
 */
export async function nextPlanAfter(
  deps: Pick<BillingDeps, "db">,
  tenantId: string,
  ended: string,
  from: PlanRow | null,
): Promise<NextPlan | null> {
  const successor = await grantingSubscription(deps, tenantId, ended);
  const plan = successor ? await planById(deps.db, successor.plan) : null;
  if (successor && plan) return { plan, successor };
  const fallback = await fallbackPlan(deps.db, from);
  return fallback ? { plan: fallback, successor: null } : null;
}

/** Whether the tenant's current subscription (by its mirrored row) still grants its plan. */
async function currentGrants(deps: SubscriptionDeps, tenant: TenantRow): Promise<boolean> {
  const row = tenant.stripe_subscription_id
    ? await findSubscriptionRow(deps, tenant.stripe_subscription_id)
    : null;
  return row !== null && GRANTING.has(row.status);
}

/**
 * `customer.subscription.created|updated|deleted`: mirror the subscription into `subscriptions`, put the
 * tenant on the plan its price belongs to (or back on its fallback plan when the subscription ended), and
 * refresh the tenant's KeyRecords. An event older than the last one applied changes nothing.
 */
export async function applySubscription(
  deps: SubscriptionDeps,
  sub: Subscription,
  eventCreated: number,
  deleted = false,
): Promise<SubscriptionOutcome> {
  const row = await findSubscriptionRow(deps, sub.id);
  if (row && row.last_event_at > eventCreated) return "stale";
  // An ended subscription stays ended: Stripe stamps events in whole seconds, so an `updated` of the same
  // second as the `deleted` can arrive after it and would otherwise bring the cancelled subscription back.
  if (row && FINAL.has(row.status) && !deleted) return "stale";
  const tenant = await tenantFor(deps, sub, row);
  if (!tenant) {
    deps.logger.warn({ subscription: sub.id }, "stripe subscription belongs to no known tenant; ignored");
    return "unmapped";
  }
  const terms = subscriptionTerms(sub);
  const plan: PlanRow | null =
    (await planByStripePrice(deps.db, terms.priceId ?? "")) ??
    (sub.metadata?.plan ? await planBySlug(deps.db, sub.metadata.plan) : null) ??
    (row ? await planById(deps.db, row.plan) : null);
  const status: SubscriptionRow["status"] = deleted ? "canceled" : sub.status;
  const data = {
    plan: plan?.id ?? "",
    stripe_subscription_id: sub.id,
    stripe_customer_id: idOf(sub.customer) ?? "",
    stripe_price_id: terms.priceId ?? "",
    status,
    tier: plan?.tier ?? row?.tier ?? tenant.tier,
    current_period_start: seconds(terms.start),
    billing_cycle_anchor: sub.billing_cycle_anchor ?? 0,
    current_period_end: seconds(terms.end),
    cancel_at_period_end: sub.cancel_at_period_end ?? false,
    canceled_at: seconds(sub.canceled_at),
    last_event_at: eventCreated,
    ...(GRANTING.has(status) ? { grace_until: "" } : {}),
  };
  const subscriptions = deps.db.forTenant(tenant.id).collection("subscriptions");
  if (row) await subscriptions.update(row.id, data);
  else await subscriptions.create(data);
  deps.periods.forget(tenant.id);

  const customer = idOf(sub.customer) ?? undefined;
  // The tenant's plan follows its current subscription: an event of another one it also has (a second
  // checkout) is mirrored, but neither grants nor ends what the current one gives.
  const current = !tenant.stripe_subscription_id || tenant.stripe_subscription_id === sub.id;
  if (GRANTING.has(status) && plan && (current || !(await currentGrants(deps, tenant)))) {
    await applyTenantPlan(deps, tenant, plan, {
      stripe_customer_id: customer,
      stripe_subscription_id: sub.id,
    });
  } else if (ENDED.has(status) && current) {
    // Another subscription of the tenant that still grants (one made outside checkout) takes over; else the
    // plan's downgrade target.
    const next = await nextPlanAfter(deps, tenant.id, sub.id, plan ?? (await planById(deps.db, tenant.plan)));
    if (next)
      await applyTenantPlan(deps, tenant, next.plan, {
        stripe_subscription_id: next.successor?.stripe_subscription_id ?? "",
      });
    else await deps.refreshTenantKeys(tenant.id);
  } else {
    await deps.refreshTenantKeys(tenant.id);
  }
  return "applied";
}
