import type { Db } from "@cloudfreedom/db";
import { pbDateToMs } from "@cloudfreedom/db";
import {
  anchorDayOf,
  billingPeriodOf,
  type PeriodBounds,
  type PeriodId,
  periodBounds,
} from "@cloudfreedom/shared";

/** A tenant's budget periods: calendar months in UTC unless its subscription has a billing anchor. */
export interface TenantPeriods {
  /** The period `at` (default now) falls in for this tenant. */
  current(tenantId: string, at?: Date): Promise<PeriodBounds>;
  bounds(tenantId: string, period: PeriodId): Promise<PeriodBounds>;
  /** Forget a tenant's cached anchor (its subscription changed). */
  forget(tenantId: string): void;
}

const LIVE_STATUSES = "status = 'active' || status = 'trialing' || status = 'past_due'";

/** The anchor day of the tenant's live subscription, cached per process for `ttlMs`. */
export function createTenantPeriods(db: Db, ttlMs = 60_000): TenantPeriods {
  const anchors = new Map<string, { at: number; day: number | null }>();

  async function anchorDay(tenantId: string): Promise<number | null> {
    const cached = anchors.get(tenantId);
    if (cached && Date.now() - cached.at < ttlMs) return cached.day;
    const subscription = await db
      .forTenant(tenantId)
      .collection("subscriptions")
      .getFirst({ filter: LIVE_STATUSES, sort: "-updated" });
    const startMs = subscription ? pbDateToMs(subscription.current_period_start) : null;
    const day = anchorDayOf(startMs === null ? null : new Date(startMs));
    anchors.set(tenantId, { at: Date.now(), day });
    return day;
  }

  return {
    async current(tenantId, at = new Date()) {
      return billingPeriodOf(at, await anchorDay(tenantId));
    },
    async bounds(tenantId, period) {
      return periodBounds(period, await anchorDay(tenantId));
    },
    forget(tenantId) {
      anchors.delete(tenantId);
    },
  };
}
