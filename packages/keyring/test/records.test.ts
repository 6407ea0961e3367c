import type { ApiKeyRow, PlanRow, TenantRow } from "@cloudfreedom/db";
import { billingPeriodOf, KeyRecord } from "@cloudfreedom/shared";
import { describe, expect, it } from "vitest";
import { keyRecordOf, periodAnchorDayOf, type TenantContext } from "../src/index.ts";

const row = { created: "2026-01-01 00:00:00.000Z", updated: "2026-01-01 00:00:00.000Z" };
const tenant: TenantRow = {
  ...row,
  id: "tnt_a",
  slug: "acme",
  name: "Acme",
  plan: "pln_pro",
  tier: "free",
  currency: "EUR",
  status: "active",
  stripe_customer_id: "",
  stripe_subscription_id: "",
  settings: null,
};
const plan: PlanRow = {
  ...row,
  id: "pln_pro",
  slug: "pro",
  name: "Pro",
  description: "",
  tier: "pro",
  price_micros: 0,
  currency: "EUR",
  interval: "month",
  monthly_budget_micros: 50_000_000,
  query_limit: 0,
  max_users: 0,
  markup_pct: 20,
  rpm: 0,
  tpm: 0,
  stripe_price_id: "",
  stripe_overage_price_id: "",
  features: null,
  is_active: true,
  grace_days: 0,
  downgrade_to: "",
};
const key = (id: string, user: string): ApiKeyRow => ({
  ...row,
  id,
  hash: "0".repeat(64),
  prefix: "cf_live_AbCd",
  tenant: tenant.id,
  user,
  name: id,
  scopes: null,
  allowed_models: null,
  rpm: 0,
  tpm: 0,
  budget_micros: 0,
  expires_at: "",
  revoked_at: "",
  grace_until: "",
  last_used_at: "",
  rotated_from: "",
  created_by: "",
});
const context = (overrides: Partial<TenantContext> = {}): TenantContext => ({
  tenant,
  plan,
  tier: "pro",
  standing: { tenant: null, users: new Map() },
  periodAnchorDay: null,
  ...overrides,
});

describe("keyRecordOf", () => {
  it("admits with the plan's budget and calendar months when nothing standing or anchored applies", () => {
    const record = keyRecordOf(context(), key("key_1", "usr_1"));
    expect(record.tier).toBe("pro");
    expect(record.tenant_limits.budget_micros).toBe(50_000_000);
    expect(record).not.toHaveProperty("user_budget_micros");
    expect(record.tenant_limits).not.toHaveProperty("period_anchor_day");
  });

  it("takes the tenant's standing budget over the plan's, and each key its own user's standing budget", () => {
    const ctx = context({
      standing: { tenant: 2_000_000, users: new Map([["usr_1", 300_000]]) },
      periodAnchorDay: 15,
    });
    const mine = keyRecordOf(ctx, key("key_1", "usr_1"));
    const theirs = keyRecordOf(ctx, key("key_2", "usr_2"));
    const nobodys = keyRecordOf(ctx, key("key_3", ""));
    expect(KeyRecord.parse(mine)).toEqual(mine);
    expect(mine).toMatchObject({
      user_id: "usr_1",
      user_budget_micros: 300_000,
      tenant_limits: { budget_micros: 2_000_000, period_anchor_day: 15 },
    });
    expect(theirs.user_budget_micros).toBeUndefined();
    expect(nobodys.user_budget_micros).toBeUndefined();
    for (const record of [theirs, nobodys]) {
      expect(record.tenant_limits).toMatchObject({ budget_micros: 2_000_000, period_anchor_day: 15 });
    }
  });

  it("keeps a tenant without a plan unlimited unless a standing budget is set", () => {
    expect(keyRecordOf(context({ plan: null }), key("key_1", "")).tenant_limits.budget_micros).toBeNull();
    expect(
      keyRecordOf(context({ plan: null, standing: { tenant: 9_000, users: new Map() } }), key("key_1", ""))
        .tenant_limits.budget_micros,
    ).toBe(9_000);
  });
});

describe("periodAnchorDayOf", () => {
  const started = (current_period_start: string, billing_cycle_anchor = 0) => ({
    current_period_start,
    billing_cycle_anchor,
  });

  it("is the UTC day the subscription's current period started when Stripe named no anchor, null without one", () => {
    expect(periodAnchorDayOf(started("2026-03-15 09:30:00.000Z"))).toBe(15);
    expect(periodAnchorDayOf(started("2026-03-31 23:59:59.000Z"))).toBe(31);
    expect(periodAnchorDayOf(started(""))).toBeNull();
    expect(periodAnchorDayOf(null)).toBeNull();
  });

  it("is the billing cycle anchor's day when there is one: an anchor-31 subscription's period that started on Feb 28", () => {
    const anchor31 = Date.parse("2026-01-31T10:00:00Z") / 1000;
    const day = periodAnchorDayOf(started("2026-02-28 10:00:00.000Z", anchor31));
    expect(day).toBe(31);
    // Stripe's period is Feb 28 – Mar 31; the budget period is the same, not Mar 28 onwards.
    const bounds = billingPeriodOf(new Date("2026-03-29T12:00:00Z"), day);
    expect(bounds.period).toBe("2026-02");
    expect(bounds.start.toISOString()).toBe("2026-02-28T00:00:00.000Z");
    expect(bounds.end.toISOString()).toBe("2026-03-31T00:00:00.000Z");
  });

  it("gives the router the period billing counts in (anchor 15: mid-month to mid-month)", () => {
    const day = periodAnchorDayOf(started("2026-03-15 09:30:00.000Z"));
    const bounds = billingPeriodOf(new Date("2026-04-10T12:00:00Z"), day);
    expect(bounds.period).toBe("2026-03");
    expect(bounds.start.toISOString()).toBe("2026-03-15T00:00:00.000Z");
    expect(bounds.end.toISOString()).toBe("2026-04-15T00:00:00.000Z");
  });
});
