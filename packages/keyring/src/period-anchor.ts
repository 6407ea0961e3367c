import type { Db, SubscriptionRow, TenantRow } from "@cloudfreedom/db";
import { pbDateToMs } from "@cloudfreedom/db";
import { anchorDayOf } from "@cloudfreedom/shared";
import { decidingSubscription, liveSubscriptions, subscriptionGrantsTier } from "./subscriptions.ts";

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
 * The anchor day of a tenant's budget periods (DESIGN.md §6): that of the subscription its tier comes from
 * (`decidingSubscription` of those that grant), else of the deciding live one, null (calendar months) without
 * one. Billing's periods and the KeyRecords the router admits with both take it from here, so both count spend
 * against the same period.
 */
export async function loadPeriodAnchorDay(
  db: Db,
  tenant: string | Pick<TenantRow, "id" | "stripe_subscription_id">,
): Promise<number | null> {
  const row = typeof tenant === "string" ? await db.operator.collection("tenants").getOne(tenant) : tenant;
  const live = await liveSubscriptions(db, row.id);
  const nowMs = Date.now();
  // The subscription the tier comes from, else (none grants) the one that decides among the live ones.
  const deciding =
    decidingSubscription(live, row, (sub) => subscriptionGrantsTier(sub, nowMs)) ??
    decidingSubscription(live, row);
  return periodAnchorDayOf(deciding);
}
