import { readPeriodCounters } from "@cloudfreedom/admission";
import type { ModelRow } from "@cloudfreedom/db";
import { createProducer } from "@cloudfreedom/queue";
import { billingPeriodOf, periodOf } from "@cloudfreedom/shared";
import { createModel, createPlan } from "@cloudfreedom/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { applyTenantPlan } from "../../src/services/tenants/tenant-plan.ts";
import { persistUsageBatch } from "../../src/services/usage/persist-usage-batch.ts";
import { type TenantFixture, tenantFixture, testModel, usageEvent } from "./fixtures.ts";
import { type BillingHarness, OPERATOR_TOKEN, startBilling } from "./harness.ts";

let h: BillingHarness;
let a: TenantFixture;
let model: ModelRow;
let premium: ModelRow;
const period = periodOf(new Date());

beforeAll(async () => {
  h = await startBilling();
  const ctx = { db: h.db, redis: h.redisDb.redis };
  [a, model, premium] = await Promise.all([
    tenantFixture(ctx),
    testModel(h.db),
    createModel(ctx, { required_tier: "enterprise" }),
  ]);
});
afterAll(() => h?.stop());

const check = (token: string, body: Record<string, unknown>) =>
  h.call("POST", "/v1/budget/check", { token, body });

describe("POST /v1/budget/check", () => {
  it("admits a request the budget affords without holding anything", async () => {
    const res = await check(a.billingKey.secret, {
      model: model.model_id,
      input_tokens: 1_000,
      max_output_tokens: 500,
    });
    // (1,000 × €1 + 500 × €2) / 1M = 2,000 micros, +20 % markup.
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      allowed: true,
      model: model.model_id,
      period,
      estimated_cost_micros: 2_400,
      estimated_tokens: 1_500,
      reservation_id: null,
      budget_remaining_micros: 1_000_000 - 2_400,
    });
    const counters = await readPeriodCounters(h.redisDb.redis, a.tenant.id, period);
    expect(counters.tenant).toEqual({ spent: 0, reserved: 0 });
  });

  it("prices the prompt as cache writes for a request with breakpoints, as the router holds it", async () => {
    const body = { model: model.model_id, input_tokens: 1_000, max_output_tokens: 500 };
    // Writes without a catalog price: 5-minute 1.25 × input, 1-hour 2 × input; output as before (1,000).
    expect((await check(a.billingKey.secret, { ...body, cache_write: "5m" })).body).toMatchObject({
      estimated_cost_micros: (1_250 + 1_000) * 1.2,
    });
    expect((await check(a.billingKey.secret, { ...body, cache_write: "1h" })).body).toMatchObject({
      estimated_cost_micros: (2_000 + 1_000) * 1.2,
    });
    const refused = await check(a.billingKey.secret, { ...body, cache_write: "2h" });
    expect(refused.status).toBe(400);
    expect(refused.body).toMatchObject({ code: "validation_failed", details: { field: "cache_write" } });
  });

  it("holds the maximum cost when asked to reserve, and settles it with the usage report", async () => {
    const res = await check(a.billingKey.secret, {
      model: model.model_id,
      input_tokens: 1_000,
      reserve: true,
    });
    // Without max_output_tokens the model's cap (1,000) is reserved: 1,000 + 2,000 = 3,000 micros → 3,600.
    expect(res.body).toMatchObject({
      estimated_cost_micros: 3_600,
      reservation_id: expect.stringMatching(/^rsv_/),
    });
    expect((await readPeriodCounters(h.redisDb.redis, a.tenant.id, period)).tenant).toEqual({
      spent: 0,
      reserved: 3_600,
    });

    const event = usageEvent(a.tenant, a.billingKey.row, {
      reservation_id: String(res.body.reservation_id),
      source: "api",
      billed_micros: 1_500,
    });
    const analytics = createProducer("analytics", { connection: h.runtime.queueRedis() });
    const errors = await persistUsageBatch(
      {
        client: h.runtime.db,
        redis: h.redisDb.redis,
        analytics,
        settle: (b, o) => h.deps.admission.settle(b, o),
      },
      [event],
    );
    await analytics.close();
    expect(errors).toEqual([null]);
    expect((await readPeriodCounters(h.redisDb.redis, a.tenant.id, period)).tenant).toEqual({
      spent: 1_500,
      reserved: 0,
    });

    const budget = await h.call("GET", "/v1/budget", { token: a.billingKey.secret });
    expect(budget.status).toBe(200);
    expect(budget.body).toMatchObject({
      tenant_id: a.tenant.id,
      period,
      counters: "live",
      currency: "EUR",
      scopes: [
        {
          scope_type: "tenant",
          scope_id: a.tenant.id,
          limit_micros: 1_000_000,
          spent_micros: 1_500,
          reserved_micros: 0,
          remaining_micros: 998_500,
        },
        { scope_type: "user", scope_id: a.owner.id, limit_micros: null, spent_micros: 1_500 },
        {
          scope_type: "key",
          scope_id: a.billingKey.row.id,
          limit_micros: null,
          spent_micros: 1_500,
          remaining_micros: null,
        },
      ],
    });
  });

  it("names the end of the tenant's own period in a denial when a subscription anchors it mid-month", async () => {
    const c = await tenantFixture({ db: h.db, redis: h.redisDb.redis });
    const anchor = Date.UTC(2026, 10, 15) / 1000;
    await h.db
      .forTenant(c.tenant.id)
      .collection("subscriptions")
      .create({
        plan: c.plan.id,
        stripe_subscription_id: `sub_${c.tenant.id}`,
        status: "active",
        tier: c.plan.tier,
        billing_cycle_anchor: anchor,
        current_period_start: new Date(Date.now() - 86_400_000).toISOString(),
        current_period_end: new Date(Date.now() + 20 * 86_400_000).toISOString(),
      });
    const res = await check(c.billingKey.secret, { model: model.model_id, input_tokens: 2_000_000 });
    expect(res.status).toBe(402);
    const own = billingPeriodOf(new Date(), 15);
    expect(res.body).toMatchObject({
      code: "budget_exceeded",
      details: { period: own.period, period_end: own.end.toISOString() },
    });
  });

  it("refuses a model above the key's tier with the router's own 403", async () => {
    const res = await check(a.billingKey.secret, { model: premium.model_id, input_tokens: 10 });
    expect(res.status).toBe(403);
    expect(res.body).toMatchObject({
      code: "model_access_restricted",
      message: "Model access restricted: Requires Enterprise tier or higher",
      details: { model_id: premium.model_id, user_tier: "pro", required_tier: "enterprise" },
    });
  });

  it("refuses what the budget cannot afford with the router's 402, naming the scope", async () => {
    const res = await check(a.billingKey.secret, { model: model.model_id, input_tokens: 2_000_000 });
    expect(res.status).toBe(402);
    expect(res.body).toMatchObject({
      code: "budget_exceeded",
      details: { scope: "tenant", limit: 1_000_000, spent: 1_500, period },
      error: { type: "insufficient_quota" },
    });
  });

  it("names the bad field", async () => {
    const res = await check(a.billingKey.secret, { model: model.model_id, input_tokens: -5 });
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({ code: "validation_failed", details: { field: "input_tokens" } });
    const unknown = await check(a.billingKey.secret, { model: "no-such-model", input_tokens: 5 });
    expect(unknown.status).toBe(404);
    expect(unknown.body).toMatchObject({ code: "model_not_found", details: { model_id: "no-such-model" } });
  });

  it("accepts a member's access token (tenant and user budgets)", async () => {
    const token = await h.signToken({ sub: a.member.id, tenant: a.tenant.id, role: "member" });
    const res = await check(token, { model: model.model_id, input_tokens: 10, max_output_tokens: 10 });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ allowed: true, estimated_cost_micros: 36 });
  });
});

describe("PUT /v1/budgets", () => {
  it("refuses a limit of 0, which would read as no limit, and changes nothing", async () => {
    const owner = await h.signToken({ sub: a.owner.id, tenant: a.tenant.id, role: "owner" });
    const res = await h.call("PUT", "/v1/budgets", {
      token: owner,
      body: { scope_type: "key", scope_id: a.chatKey.row.id, limit_micros: 0 },
    });
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({ details: { field: "limit_micros" } });
    expect(res.body.message).toContain("send null for no limit");
    const stored = await h.db
      .forTenant(a.tenant.id)
      .collection("budgets")
      .listAll({ filter: "scope_type = 'key' && scope_id = {:id}", params: { id: a.chatKey.row.id } });
    expect(stored).toEqual([]);
    const plan = await h.call("PATCH", `/v1/plans/${a.plan.slug}`, {
      token: OPERATOR_TOKEN,
      body: { monthly_budget_micros: 0 },
    });
    expect(plan.status).toBe(400);
    expect(plan.body).toMatchObject({ details: { field: "monthly_budget_micros" } });
  });

  it("refuses a tenant budget naming another tenant (or anything but the caller's), and changes nothing", async () => {
    const t = await tenantFixture({ db: h.db, redis: h.redisDb.redis });
    const owner = await h.signToken({ sub: t.owner.id, tenant: t.tenant.id, role: "owner" });
    for (const scope_id of [a.tenant.id, "garbage"]) {
      const res = await h.call("PUT", "/v1/budgets", {
        token: owner,
        body: { scope_type: "tenant", scope_id, limit_micros: 5 },
      });
      expect(res.status).toBe(404);
      expect(res.body).toMatchObject({ code: "not_found", details: { field: "scope_id" } });
    }
    for (const tenant of [t.tenant.id, a.tenant.id])
      expect(
        await h.db.forTenant(tenant).collection("budgets").listAll({ filter: "period = 'default'" }),
      ).toEqual([]);
    // Naming its own tenant is the same as naming none.
    const own = await h.call("PUT", "/v1/budgets", {
      token: owner,
      body: { scope_type: "tenant", scope_id: t.tenant.id, limit_micros: 5 },
    });
    expect(own.status).toBe(200);
  });

  it("lets the owner cap a key, and the key's next check is refused by that cap", async () => {
    const owner = await h.signToken({ sub: a.owner.id, tenant: a.tenant.id, role: "owner" });
    const set = await h.call("PUT", "/v1/budgets", {
      token: owner,
      body: { scope_type: "key", scope_id: a.billingKey.row.id, limit_micros: 2_000 },
    });
    expect(set.status).toBe(200);
    expect(set.body).toEqual({
      tenant_id: a.tenant.id,
      scope_type: "key",
      scope_id: a.billingKey.row.id,
      limit_micros: 2_000,
    });
    const res = await check(a.billingKey.secret, {
      model: model.model_id,
      input_tokens: 1_000,
      max_output_tokens: 10,
    });
    expect(res.status).toBe(402);
    expect(res.body).toMatchObject({ details: { scope: "key", limit: 2_000, spent: 1_500 } });

    const budget = await h.call("GET", "/v1/budget", { token: a.billingKey.secret });
    expect(budget.body.scopes).toContainEqual(
      expect.objectContaining({ scope_type: "key", limit_micros: 2_000, remaining_micros: 500 }),
    );

    // Auth's key update writes only the key's row (what its KeyRecord enforces): the view follows it.
    await h.db
      .forTenant(a.tenant.id)
      .collection("api_keys")
      .update(a.billingKey.row.id, { budget_micros: 3_000 });
    const after = await h.call("GET", "/v1/budget", { token: a.billingKey.secret });
    expect(after.body.scopes).toContainEqual(
      expect.objectContaining({ scope_type: "key", limit_micros: 3_000, remaining_micros: 1_500 }),
    );
    await h.db
      .forTenant(a.tenant.id)
      .collection("api_keys")
      .update(a.billingKey.row.id, { budget_micros: 2_000 });
  });

  it("lets the owner raise the tenant budget past the plan's only while a subscription bills the overage", async () => {
    const t = await tenantFixture({ db: h.db, redis: h.redisDb.redis });
    const owner = await h.signToken({ sub: t.owner.id, tenant: t.tenant.id, role: "owner" });
    const put = (limit_micros: number | null) =>
      h.call("PUT", "/v1/budgets", { token: owner, body: { scope_type: "tenant", limit_micros } });
    const above = await put(5_000_000);
    expect(above.status).toBe(403);
    expect(above.body).toMatchObject({
      code: "forbidden",
      message: expect.stringContaining("above the EUR 1.00 the plan includes"),
      details: { field: "limit_micros", included_micros: 1_000_000 },
    });
    const budgets = await h.db.forTenant(t.tenant.id).collection("budgets").listAll({});
    expect(budgets).toEqual([]);
    // Lower than the plan's, or none: always.
    expect((await put(500_000)).status).toBe(200);
    expect((await put(null)).status).toBe(200);
    // A subscription whose plan has no overage price bills none: still refused.
    await h.db
      .forTenant(t.tenant.id)
      .collection("subscriptions")
      .create({
        plan: t.plan.id,
        stripe_subscription_id: `sub_${t.tenant.id}`,
        status: "active",
        tier: "pro",
      });
    const unbilled = await put(5_000_000);
    expect(unbilled.status).toBe(403);
    expect(unbilled.body.message).toContain("no overage price");
    // With a subscription that bills the overage.
    await h.db.operator
      .collection("plans")
      .update(t.plan.id, { stripe_overage_price_id: `price_overage_${t.tenant.id}` });
    expect((await put(5_000_000)).status).toBe(200);
  });

  it("removes a budget the tenant raised while paying once its plan bills no overage; an operator's stays", async () => {
    const ctx = { db: h.db, redis: h.redisDb.redis };
    const [own, contract] = await Promise.all([tenantFixture(ctx), tenantFixture(ctx)]);
    const cheaper = await createPlan(ctx, { tier: "free", monthly_budget_micros: 500_000 });
    await h.db.operator
      .collection("plans")
      .update(own.plan.id, { stripe_overage_price_id: `price_o_${own.tenant.id}` });
    await h.db
      .forTenant(own.tenant.id)
      .collection("subscriptions")
      .create({
        plan: own.plan.id,
        stripe_subscription_id: `sub_${own.tenant.id}`,
        status: "active",
        tier: "pro",
      });
    const owner = await h.signToken({ sub: own.owner.id, tenant: own.tenant.id, role: "owner" });
    const raise = await h.call("PUT", "/v1/budgets", {
      token: owner,
      body: { scope_type: "tenant", limit_micros: 5_000_000 },
    });
    expect(raise.status).toBe(200);
    const byOperator = await h.call("PUT", "/v1/budgets", {
      token: OPERATOR_TOKEN,
      body: { tenant_id: contract.tenant.id, scope_type: "tenant", limit_micros: 5_000_000 },
    });
    expect(byOperator.status).toBe(200);

    const standing = (who: TenantFixture) =>
      h.db
        .forTenant(who.tenant.id)
        .collection("budgets")
        .getFirst({ filter: "scope_type = 'tenant' && period = 'default'" });
    const tenantRow = (who: TenantFixture) => h.db.operator.collection("tenants").getOne(who.tenant.id);
    // A renewal (the same plan applied again) changes nothing, whatever the plan says of overage now.
    await h.db.operator.collection("plans").update(own.plan.id, { stripe_overage_price_id: "" });
    await applyTenantPlan(
      h.deps,
      await tenantRow(own),
      await h.db.operator.collection("plans").getOne(own.plan.id),
    );
    expect(await standing(own)).toMatchObject({ limit_micros: 5_000_000 });

    for (const who of [own, contract]) await applyTenantPlan(h.deps, await tenantRow(who), cheaper);

    const record = async (who: TenantFixture) =>
      JSON.parse((await h.redisDb.redis.get(`cf:key:${who.billingKey.hash}`)) ?? "{}");
    expect(await standing(own)).toMatchObject({ limit_micros: 0 });
    expect((await record(own)).tenant_limits.budget_micros).toBe(500_000);
    expect(
      await h.db
        .forTenant(own.tenant.id)
        .collection("audit_logs")
        .listAll({ filter: "action = 'budget.removed'" }),
    ).toEqual([expect.objectContaining({ metadata: expect.objectContaining({ limit_micros: 5_000_000 }) })]);
    expect(await standing(contract)).toMatchObject({ limit_micros: 5_000_000, set_by_operator: true });
    expect((await record(contract)).tenant_limits.budget_micros).toBe(5_000_000);
  });

  it("lets an operator raise the tenant budget, and removes a cap with null", async () => {
    const raised = await h.call("PUT", "/v1/budgets", {
      token: OPERATOR_TOKEN,
      body: { tenant_id: a.tenant.id, scope_type: "tenant", limit_micros: 5_000_000 },
    });
    expect(raised.status).toBe(200);
    const cleared = await h.call("PUT", "/v1/budgets", {
      token: OPERATOR_TOKEN,
      body: { tenant_id: a.tenant.id, scope_type: "key", scope_id: a.billingKey.row.id, limit_micros: null },
    });
    expect(cleared.body).toMatchObject({ limit_micros: null });
    const budget = await h.call("GET", "/v1/budget", { token: a.billingKey.secret });
    expect(budget.body.scopes).toContainEqual(
      expect.objectContaining({ scope_type: "tenant", limit_micros: 5_000_000 }),
    );
    expect(budget.body.scopes).toContainEqual(
      expect.objectContaining({ scope_type: "key", limit_micros: null }),
    );
  });

  it("refuses members and billing-only keys, and names a missing scope id", async () => {
    const member = await h.signToken({ sub: a.member.id, tenant: a.tenant.id, role: "member" });
    const body = { scope_type: "tenant", limit_micros: 1 };
    expect((await h.call("PUT", "/v1/budgets", { token: member, body })).status).toBe(403);
    expect((await h.call("PUT", "/v1/budgets", { token: a.billingKey.secret, body })).status).toBe(403);
    const noScope = await h.call("PUT", "/v1/budgets", {
      token: OPERATOR_TOKEN,
      body: { tenant_id: a.tenant.id, scope_type: "user", limit_micros: 1 },
    });
    expect(noScope.status).toBe(400);
    expect(noScope.body).toMatchObject({ code: "validation_failed", details: { field: "scope_id" } });
  });
});
