import type { Db, SubscriptionRow } from "@cloudfreedom/db";
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
 * The anchor day of a tenant's budget periods (DESIGN.md §6): its most recently updated live subscription's,
 * null (calendar months) without one. Billing's periods and the KeyRecords the router admits with both take it
 * from here, so both count spend against the same period.
 */
export async function loadPeriodAnchorDay(db: Db, tenantId: string): Promise<number | null> {
  const subscription = await db
    .forTenant(tenantId)
    .collection("subscriptions")
    .getFirst({ filter: LIVE_SUBSCRIPTIONS_FILTER, sort: "-updated" });
  return periodAnchorDayOf(subscription);
}
