import type { Db, SubscriptionRow, TenantRow } from "@cloudfreedom/db";
import { pbDateToMs } from "@cloudfreedom/db";

/** Subscriptions that may still grant something (a past-due one within its grace period). */
export const LIVE_SUBSCRIPTIONS_FILTER = "status = 'active' || status = 'trialing' || status = 'past_due'";

/** A subscription grants its tier while active or trialing, and while past due within its grace period. */
export function subscriptionGrantsTier(row: SubscriptionRow, nowMs: number): boolean {
  if (row.status === "active" || row.status === "trialing") return true;
  if (row.status !== "past_due") return false;
  const grace = pbDateToMs(row.grace_until);
  return grace !== null && grace > nowMs;
}

/** Descending order of PocketBase dates (sortable as text; an empty one sorts last). */
const compareDesc = (a: string, b: string): number => (a < b ? 1 : a > b ? -1 : 0);

/**
 * The subscription that decides for a tenant among `rows`: its current one (billing names it on the tenant row)
 * when that one is `accepted`, else the accepted one whose current period started last (the most recently
 * updated among equals). Taking the most recently updated alone let an update of another subscription (a late
 * event, a plan edit's tier) decide the tenant's tier and periods.
 */
export function decidingSubscription(
  rows: SubscriptionRow[],
  tenant: Pick<TenantRow, "stripe_subscription_id">,
  accepted: (row: SubscriptionRow) => boolean = () => true,
): SubscriptionRow | null {
  const current = tenant.stripe_subscription_id;
  const newestFirst = [...rows].sort(
    (a, b) =>
      compareDesc(a.current_period_start, b.current_period_start) || compareDesc(a.updated, b.updated),
  );
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
