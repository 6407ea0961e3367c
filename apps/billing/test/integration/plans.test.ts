import type { PlanRow, TenantRow } from "@cloudfreedom/db";
import {
  type CreatedApiKey,
  createApiKey,
  createPlan,
  createTenant,
  uniqueSuffix,
} from "@cloudfreedom/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { updatePlan } from "../../src/services/plans/plans.ts";
import { type BillingHarness, OPERATOR_TOKEN, startBilling } from "./harness.ts";

let h: BillingHarness;

beforeAll(async () => {
  h = await startBilling();
});
afterAll(() => h?.stop());

const keyRecord = async (key: CreatedApiKey) =>
  JSON.parse((await h.redisDb.redis.get(`cf:key:${key.hash}`)) ?? "{}");
const tenantRow = (tenant: TenantRow) => h.db.operator.collection("tenants").getOne(tenant.id);

/** A tenant on `plan` with one key whose KeyRecord is in Redis. */
async function tenantOn(plan: PlanRow): Promise<{ tenant: TenantRow; key: CreatedApiKey }> {
  const ctx = { db: h.db, redis: h.redisDb.redis };
  const tenant = await createTenant(ctx, { plan });
  const key = await createApiKey(ctx, tenant, { plan });
  return { tenant, key };
}

/** Mirrors an active Stripe subscription of `plan` for the tenant, as the webhook would. */
function subscribe(tenant: TenantRow, plan: PlanRow) {
  return h.db
    .forTenant(tenant.id)
    .collection("subscriptions")
    .create({
      plan: plan.id,
      stripe_subscription_id: `sub_${uniqueSuffix()}`,
      status: "active",
      tier: plan.tier,
    });
}

describe("an operator's plan edit reaches the tenants on the plan", () => {
  it("moves every tenant on the plan, subscribed or not, to the plan's new tier, and leaves other plans' tenants alone", async () => {
    const ctx = { db: h.db, redis: h.redisDb.redis };
    const [plan, other] = await Promise.all([
      createPlan(ctx, { slug: `pro-${uniqueSuffix(6)}`, tier: "pro" }),
      createPlan(ctx, { slug: `pro-${uniqueSuffix(6)}`, tier: "pro" }),
    ]);
    const [unsubscribed, subscribed, elsewhere] = await Promise.all([
      tenantOn(plan),
      tenantOn(plan),
      tenantOn(other),
    ]);
    const subscription = await subscribe(subscribed.tenant, plan);
    const otherSubscription = await subscribe(elsewhere.tenant, other);
    expect(await keyRecord(subscribed.key)).toMatchObject({ tier: "pro" });

    const res = await h.call("PATCH", `/v1/plans/${plan.slug}`, {
      token: OPERATOR_TOKEN,
      body: { tier: "team", query_limit: 500 },
    });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ slug: plan.slug, tier: "team", query_limit: 500 });

    for (const { tenant, key } of [unsubscribed, subscribed]) {
      expect(await tenantRow(tenant)).toMatchObject({ plan: plan.id, tier: "team" });
      expect(await keyRecord(key)).toMatchObject({ tier: "team", tenant_limits: { query_limit: 500 } });
    }
    // The subscription mirrors the plan's tier, which is where the tenant's tier is resolved from.
    expect(
      await h.db.forTenant(subscribed.tenant.id).collection("subscriptions").getOne(subscription.id),
    ).toMatchObject({ tier: "team" });

    expect(await tenantRow(elsewhere.tenant)).toMatchObject({ plan: other.id, tier: "pro" });
    expect(await keyRecord(elsewhere.key)).toMatchObject({
      tier: "pro",
      tenant_limits: { query_limit: null },
    });
    expect(
      await h.db.forTenant(elsewhere.tenant.id).collection("subscriptions").getOne(otherSubscription.id),
    ).toMatchObject({ tier: "pro" });
  });

  it("reaches tenants past the first page of 200", async () => {
    const ctx = { db: h.db, redis: h.redisDb.redis };
    const plan = await createPlan(ctx, { slug: `many-${uniqueSuffix(6)}`, tier: "starter" });
    const tenants: TenantRow[] = [];
    for (let i = 0; i < 205; i += 25) {
      const batch = Array.from({ length: Math.min(25, 205 - i) }, () => createTenant(ctx, { plan }));
      tenants.push(...(await Promise.all(batch)));
    }
    const last = await tenantOn(plan);
    const res = await h.call("PATCH", `/v1/plans/${plan.slug}`, {
      token: OPERATOR_TOKEN,
      body: { tier: "pro" },
    });
    expect(res.status).toBe(200);
    const stale = await h.db.operator
      .collection("tenants")
      .listAll({ filter: "plan = {:plan} && tier != 'pro'", params: { plan: plan.id } });
    expect(stale).toEqual([]);
    expect(tenants).toHaveLength(205);
    expect(await keyRecord(last.key)).toMatchObject({ tier: "pro" });
  });
  it("saves the plan but answers 503 with the counts when a tenant could not be brought to it", async () => {
    const ctx = { db: h.db, redis: h.redisDb.redis };
    const plan = await createPlan(ctx, { slug: `pro-${uniqueSuffix(6)}`, tier: "pro" });
    const [stuck, fine] = await Promise.all([tenantOn(plan), tenantOn(plan)]);
    const deps = {
      ...h.deps,
      refreshTenantKeys: async (tenantId: string) => {
        if (tenantId === stuck.tenant.id) throw new Error("Redis went away");
        await h.deps.refreshTenantKeys(tenantId);
      },
    };
    await expect(updatePlan(deps, plan.slug, { tier: "team" })).rejects.toMatchObject({
      code: "service_unavailable",
      details: { refreshed: 1, failed: 1 },
    });
    expect((await h.db.operator.collection("plans").getOne(plan.id)).tier).toBe("team");
    expect(await keyRecord(fine.key)).toMatchObject({ tier: "team" });
    expect(await keyRecord(stuck.key)).toMatchObject({ tier: "pro" });
    // Sent again, it brings the rest.
    await updatePlan(h.deps, plan.slug, {});
    expect(await keyRecord(stuck.key)).toMatchObject({ tier: "team" });
  });
});

describe("a plan's overage price", () => {
  it("is set and cleared by PATCH, shown in the plan list, and refused when it is the plan's own flat price", async () => {
    const ctx = { db: h.db, redis: h.redisDb.redis };
    const flat = `price_${uniqueSuffix()}`;
    const plan = await createPlan(ctx, { slug: `metered-${uniqueSuffix(6)}`, stripe_price_id: flat });
    const overage = `price_${uniqueSuffix()}`;
    const set = await h.call("PATCH", `/v1/plans/${plan.slug}`, {
      token: OPERATOR_TOKEN,
      body: { stripe_overage_price_id: overage },
    });
    expect(set.status).toBe(200);
    expect(set.body).toMatchObject({ stripe_price_id: flat, stripe_overage_price_id: overage });
    const listed = await h.call("GET", "/v1/plans");
    expect((listed.body.data as Array<{ slug: string }>).find((p) => p.slug === plan.slug)).toMatchObject({
      stripe_overage_price_id: overage,
    });

    const same = await h.call("PATCH", `/v1/plans/${plan.slug}`, {
      token: OPERATOR_TOKEN,
      body: { stripe_overage_price_id: flat },
    });
    expect(same.status).toBe(400);
    expect(same.body).toMatchObject({
      code: "invalid_request",
      details: { field: "stripe_overage_price_id" },
    });
    expect((await h.db.operator.collection("plans").getOne(plan.id)).stripe_overage_price_id).toBe(overage);

    const cleared = await h.call("PATCH", `/v1/plans/${plan.slug}`, {
      token: OPERATOR_TOKEN,
      body: { stripe_overage_price_id: null },
    });
    expect(cleared.body).toMatchObject({ stripe_overage_price_id: null });
    expect((await h.db.operator.collection("plans").getOne(plan.id)).stripe_overage_price_id).toBe("");
  });
});
