import type { Db, SubscriptionRow, TenantRow } from "@cloudfreedom/db";
import { pbDateToMs } from "@cloudfreedom/db";
import { anchorDayOf } from "@cloudfreedom/shared";

/** Subscriptions that may still grant something (a past-due one within its grace period). */
export const LIVE_SUBSCRIPTIONS_FILTER = "status = 'active' || status = 'trialing' || status = 'past_due'";

/**
 * The anchor day of a subscription's periods: the UTC day of Stripe's billing cycle anchor, else of the day its
 * current period started; null without one. The anchor decides: Stripe starts an anchor-31 subscription's
 * periods on February 28, March 31, April 30…, so the start of one period names the wrong day for the next.
 */
export function periodAnchorDayOf(
  subscription: Pick<SubscriptionRow, "current_period_start" | "billing_cycle_anchor"> | null,
): number | null {
  if (!subscription) return null;
  if (subscription.billing_cycle_anchor > 0)
    return anchorDayOf(new Date(subscription.billing_cycle_anchor * 1000));
  const startMs = pbDateToMs(subscription.current_period_start);
  return anchorDayOf(startMs === null ? null : new Date(startMs));
}

/**
 * The subscription that decides for a tenant among `rows`: its current one (billing names it on the tenant row)
 * when that one is `accepted`, else the most recently updated accepted one. Taking the newest alone let an
 * update of another subscription (a late event, a plan edit's tier) decide the tenant's tier and periods.
 */
export function decidingSubscription(
  rows: SubscriptionRow[],
  tenant: Pick<TenantRow, "stripe_subscription_id">,
  accepted: (row: SubscriptionRow) => boolean = () => true,
): SubscriptionRow | null {
  const current = tenant.stripe_subscription_id;
  const newestFirst = [...rows].sort((a, b) => (a.updated < b.updated ? 1 : a.updated > b.updated ? -1 : 0));
  return (
    (current
      ? newestFirst.find((row) => row.stripe_subscription_id === current && accepted(row))
      : undefined) ??
    newestFirst.find(accepted) ??
    null
  );
}

/** The tenant's live subscriptions (those that may still grant something). */
export function liveSubscriptions(db: Db, tenantId: string): Promise<SubscriptionRow[]> {
  return db.forTenant(tenantId).collection("subscriptions").listAll({ filter: LIVE_SUBSCRIPTIONS_FILTER });
}

/**
 * The anchor day of a tenant's budget periods (DESIGN.md §6): its deciding live subscription's
 * (`decidingSubscription`), null (calendar months) without one. Billing's periods and the KeyRecords the router
 * admits with both take it from here, so both count spend against the same period.
 */
export async function loadPeriodAnchorDay(
  db: Db,
  tenant: string | Pick<TenantRow, "id" | "stripe_subscription_id">,
): Promise<number | null> {
  const row = typeof tenant === "string" ? await db.operator.collection("tenants").getOne(tenant) : tenant;
  return periodAnchorDayOf(decidingSubscription(await liveSubscriptions(db, row.id), row));
}
