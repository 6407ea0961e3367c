import { endAccessTokens } from "@cloudfreedom/keyring";
import { periodOf, redisKeys } from "@cloudfreedom/shared";
import { createApiKey, createMembership, createUser } from "@cloudfreedom/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type TenantFixture, tenantFixture } from "./fixtures.ts";
import { type BillingHarness, OPERATOR_TOKEN, startBilling } from "./harness.ts";

let h: BillingHarness;
let a: TenantFixture;
let b: TenantFixture;

beforeAll(async () => {
  h = await startBilling();
  const ctx = { db: h.db, redis: h.redisDb.redis };
  [a, b] = await Promise.all([tenantFixture(ctx), tenantFixture(ctx)]);
});
afterAll(() => h?.stop());

const tenantRoutes = [
  ["GET", "/v1/budget"],
  ["GET", "/v1/usage"],
  ["GET", "/v1/usage/summary"],
  ["POST", "/v1/budget/check"],
  ["POST", "/v1/usage"],
  ["PUT", "/v1/budgets"],
  ["POST", "/v1/billing/checkout"],
  ["POST", "/v1/billing/portal"],
  ["PATCH", "/v1/plans/free"],
] as const;

describe("billing API security", () => {
  it.each(tenantRoutes)("%s %s refuses a request without credentials", async (method, path) => {
    const res = await h.call(method, path, method === "GET" ? {} : { body: {} });
    expect(res.status).toBe(401);
    expect(res.body).toMatchObject({ code: "unauthorized", error: { type: "authentication_error" } });
  });

  it("answers an unknown method 405 and an unknown path 404 before asking for credentials, as the other services do", async () => {
    const wrongMethod = await h.call("DELETE", "/v1/budget");
    expect(wrongMethod.status).toBe(405);
    expect(wrongMethod.headers.get("allow")).toBe("GET");
    expect((await h.call("GET", "/v1/usage/nothing-here")).status).toBe(404);
  });

  it("refuses an unknown, a revoked and an expired key", async () => {
    const revoked = await createApiKey({ db: h.db, redis: h.redisDb.redis }, a.tenant, {
      scopes: ["billing"],
      revoked: true,
    });
    const expired = await createApiKey({ db: h.db, redis: h.redisDb.redis }, a.tenant, {
      scopes: ["billing"],
      expiresAt: Date.now() - 1_000,
    });
    for (const [token, reason] of [
      ["cf_test_doesnotexist0000000000000000000", undefined],
      [revoked.secret, "revoked"],
      [expired.secret, "expired"],
    ] as const) {
      const res = await h.call("GET", "/v1/budget", { token });
      expect(res.status).toBe(401);
      expect(res.body).toMatchObject({ code: "invalid_api_key", ...(reason ? { details: { reason } } : {}) });
      if (!reason) expect(res.body.message).toContain("not a known API key, access token or operator token");
    }
  });

  it("refuses a key without the billing scope", async () => {
    const res = await h.call("GET", "/v1/usage", { token: a.chatKey.secret });
    expect(res.status).toBe(403);
    expect(res.body).toMatchObject({
      code: "forbidden",
      message: expect.stringContaining('"scopes" including "billing"'),
      details: { scope: "billing" },
    });
  });

  it("refuses an expired or forged access token", async () => {
    const expired = await h.signToken({ sub: a.owner.id, tenant: a.tenant.id, role: "owner" }, "-1m");
    expect((await h.call("GET", "/v1/budget", { token: expired })).body).toMatchObject({
      code: "token_expired",
    });
    const forged = `${expired.split(".").slice(0, 2).join(".")}.c2lnbmF0dXJl`;
    expect((await h.call("GET", "/v1/budget", { token: forged })).status).toBe(401);
  });

  it("gives another tenant's key and token nothing of this tenant", async () => {
    const bOwner = await h.signToken({ sub: b.owner.id, tenant: b.tenant.id, role: "owner" });
    for (const token of [b.billingKey.secret, bOwner]) {
      for (const path of [
        `/v1/usage?tenant_id=${a.tenant.id}`,
        `/v1/budget?tenant_id=${a.tenant.id}`,
        `/v1/usage/summary?tenant_id=${a.tenant.id}`,
      ]) {
        const res = await h.call("GET", path, { token });
        expect(res.status, path).toBe(404);
        expect(res.text).not.toContain(a.tenant.id);
      }
      const own = await h.call("GET", "/v1/usage", { token });
      expect(own.body).toMatchObject({ total: 0, items: [] });
    }
    // Owners of B naming A's key or user: refused as absent, nothing changed.
    const setOther = await h.call("PUT", "/v1/budgets", {
      token: bOwner,
      body: { scope_type: "key", scope_id: a.billingKey.row.id, limit_micros: 1 },
    });
    expect(setOther.status).toBe(404);
    const aKey = await h.db.forTenant(a.tenant.id).collection("api_keys").getOne(a.billingKey.row.id);
    expect(aKey.budget_micros).toBe(0);
    const budget = await h.call("GET", `/v1/budget?key_id=${a.billingKey.row.id}`, { token: bOwner });
    expect(budget.status).toBe(404);
    expect(budget.body).toMatchObject({ code: "not_found", details: { field: "key_id" } });
    expect(JSON.stringify(budget.body)).not.toContain('"spent_micros"');
    const user = await h.call("GET", `/v1/budget?user_id=${a.owner.id}`, { token: bOwner });
    expect(user.status).toBe(404);
    expect(user.body).toMatchObject({ code: "not_found", details: { field: "user_id" } });
    // Reporting usage against A's key from B's key is refused.
    const report = await h.call("POST", "/v1/usage", {
      token: b.billingKey.secret,
      headers: { "idempotency-key": "cross-tenant" },
      body: {
        model: "gpt-4o-mini",
        tokens: { input: 1, output: 1 },
        cost_micros: 1,
        key_id: a.billingKey.row.id,
      },
    });
    expect(report.status).toBe(404);
    expect(report.body).toMatchObject({ details: { field: "key_id" } });
  });

  it("reads the role from the membership as it is now: a demoted admin and a removed member lose billing rights with their tokens still valid", async () => {
    const ctx = { db: h.db, redis: h.redisDb.redis };
    const c = await tenantFixture(ctx);
    const { user } = await createUser(ctx);
    const membership = await createMembership(ctx, { tenant: c.tenant, user, role: "admin" });
    const token = await h.signToken({ sub: user.id, tenant: c.tenant.id, role: "admin" });
    const budget = { scope_type: "tenant", limit_micros: 500_000 };
    expect((await h.call("PUT", "/v1/budgets", { token, body: budget })).status).toBe(200);

    await h.db.forTenant(c.tenant.id).collection("memberships").update(membership.id, { role: "member" });
    const demoted = await h.call("PUT", "/v1/budgets", { token, body: { ...budget, limit_micros: 900_000 } });
    expect(demoted.status).toBe(403);
    expect((await h.call("GET", "/v1/budget", { token })).status).toBe(200);

    await h.db.forTenant(c.tenant.id).collection("memberships").delete(membership.id);
    const removed = await h.call("GET", "/v1/budget", { token });
    expect(removed.status).toBe(401);
    expect(removed.body.message).toContain("membership no longer exists");
  });

  it("refuses access tokens issued before the user's sessions were ended (password change, reclaim), to the millisecond", async () => {
    const ctx = { db: h.db, redis: h.redisDb.redis };
    const { user } = await createUser(ctx);
    await createMembership(ctx, { tenant: a.tenant, user, role: "owner" });
    const claims = { sub: user.id, tenant: a.tenant.id, role: "owner" };
    const before = await h.signToken({ ...claims, iat_ms: Date.now() });
    // Older tokens carry only `iat` (whole seconds): they count from the start of their second.
    const secondsOnly = await h.signToken(claims);
    await new Promise((resolve) => setTimeout(resolve, 5));
    await endAccessTokens(h.redisDb.redis, user.id, 60_000);
    const after = await h.signToken({ ...claims, iat_ms: Date.now() + 1 });
    for (const ended of [before, secondsOnly]) {
      const res = await h.call("GET", "/v1/budget", { token: ended });
      expect(res.status).toBe(401);
      expect(res.body.message).toContain("log in again");
    }
    expect((await h.call("GET", "/v1/budget", { token: after })).status).toBe(200);
    // An end written by an auth of the release before iat_ms (the seconds key only, during a rolling deploy).
    const { user: other } = await createUser(ctx);
    await createMembership(ctx, { tenant: a.tenant, user: other, role: "owner" });
    const old = await h.signToken({
      sub: other.id,
      tenant: a.tenant.id,
      role: "owner",
      iat_ms: Date.now() - 2_000,
    });
    await h.redisDb.redis.set(
      redisKeys.sessionsEnded(other.id),
      String(Math.floor(Date.now() / 1000)),
      "EX",
      60,
    );
    expect((await h.call("GET", "/v1/budget", { token: old })).status).toBe(401);
    // And the seconds key this release writes beside the ms one ends nothing of the session minted after.
    expect(await h.redisDb.redis.get(redisKeys.sessionsEnded(user.id))).toMatch(/^\d{10}$/);
  });

  it("keeps operator routes to operators, and operators must name the tenant", async () => {
    const owner = await h.signToken({ sub: a.owner.id, tenant: a.tenant.id, role: "owner" });
    const patch = await h.call("PATCH", "/v1/plans/free", { token: owner, body: { name: "Mine" } });
    expect(patch.status).toBe(403);
    const noTenant = await h.call("GET", "/v1/budget", { token: OPERATOR_TOKEN });
    expect(noTenant.status).toBe(400);
    expect(noTenant.body).toMatchObject({ details: { field: "tenant_id" } });
    const asOperator = await h.call("GET", `/v1/budget?tenant_id=${a.tenant.id}`, { token: OPERATOR_TOKEN });
    expect(asOperator.body).toMatchObject({ tenant_id: a.tenant.id, period: periodOf(new Date()) });
  });
});

describe("plans", () => {
  it("lists active plans publicly and lets an operator edit one", async () => {
    const slug = a.plan.slug;
    const patched = await h.call("PATCH", `/v1/plans/${slug}`, {
      token: OPERATOR_TOKEN,
      body: {
        monthly_budget_micros: 7_000_000,
        stripe_price_id: `price_${slug}`,
        grace_days: 3,
        downgrade_to: "free",
      },
    });
    expect(patched.status).toBe(200);
    expect(patched.body).toMatchObject({
      slug,
      monthly_budget_micros: 7_000_000,
      stripe_price_id: `price_${slug}`,
      grace_days: 3,
    });
    // The tenant's KeyRecords carry the new budget at once.
    const record = JSON.parse((await h.redisDb.redis.get(`cf:key:${a.billingKey.hash}`)) ?? "{}");
    expect(record.tenant_limits.budget_micros).toBe(7_000_000);
    const list = await h.call("GET", "/v1/plans");
    expect(list.status).toBe(200);
    expect(list.body.data).toContainEqual(
      expect.objectContaining({ slug, monthly_budget_micros: 7_000_000 }),
    );
    const bad = await h.call("PATCH", `/v1/plans/${slug}`, {
      token: OPERATOR_TOKEN,
      body: { markup_pct: 12.5 },
    });
    expect(bad.status).toBe(400);
    expect(bad.body).toMatchObject({ details: { field: "markup_pct" } });
  });
});
