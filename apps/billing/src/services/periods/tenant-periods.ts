import type { Db } from "@cloudfreedom/db";
import { loadPeriodAnchorDay } from "@cloudfreedom/keyring";
import { billingPeriodOf, type PeriodBounds, type PeriodId, periodBounds } from "@cloudfreedom/shared";

/** A tenant's budget periods: calendar months in UTC unless its subscription has a billing anchor. */
export interface TenantPeriods {
  /** The period `at` (default now) falls in for this tenant. */
  current(tenantId: string, at?: Date): Promise<PeriodBounds>;
  bounds(tenantId: string, period: PeriodId): Promise<PeriodBounds>;
  /** Forget a tenant's cached anchor (its subscription changed). */
  forget(tenantId: string): void;
}

/**
 * The anchor day of the tenant's live subscription (packages/keyring, which puts the same anchor in the
 * KeyRecords the router admits with), cached per process for `ttlMs`.
 */
export function createTenantPeriods(db: Db, ttlMs = 60_000): TenantPeriods {
  const anchors = new Map<string, { at: number; day: number | null }>();

  async function anchorDay(tenantId: string): Promise<number | null> {
    const cached = anchors.get(tenantId);
    if (cached && Date.now() - cached.at < ttlMs) return cached.day;
    const day = await loadPeriodAnchorDay(db, tenantId);
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
