import { createDb, createPocketBase } from "@cloudfreedom/db";
import { hashApiKey, KeyRecord, keyRejection, redisKeys } from "@cloudfreedom/shared";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  createApiKey,
  createMembership,
  createModel,
  createPlan,
  createTenant,
  createUser,
  type FactoryContext,
} from "../../src/factories.ts";
import { type StartedPocketBase, startPocketBase } from "../../src/pocketbase.ts";
import { type LeasedRedisDb, leaseRedisDb } from "../../src/redis.ts";

let pocketbase: StartedPocketBase;
let redisDb: LeasedRedisDb;
let ctx: FactoryContext & { redis: LeasedRedisDb["redis"] };

beforeAll(async () => {
  [pocketbase, redisDb] = await Promise.all([startPocketBase(), leaseRedisDb()]);
  const client = createPocketBase({
    url: pocketbase.url,
    adminEmail: pocketbase.adminEmail,
    adminPassword: pocketbase.adminPassword,
  });
  ctx = { db: createDb(client), redis: redisDb.redis };
});
afterAll(async () => {
  await Promise.all([pocketbase?.stop(), redisDb?.release()]);
});

async function storedKeyRecord(hash: string): Promise<KeyRecord> {
  const raw = await redisDb.redis.get(redisKeys.keyRecord(hash));
  expect(raw).not.toBeNull();
  return KeyRecord.parse(JSON.parse(raw ?? "null"));
}

describe("factories", () => {
  it("creates tenants with unique slugs, each with its own plan of the tenant's tier", async () => {
    const [a, b] = await Promise.all([createTenant(ctx), createTenant(ctx, { tier: "team" })]);
    expect(a.slug).not.toBe(b.slug);
    expect(a).toMatchObject({ tier: "pro", status: "active", currency: "EUR" });
    const planB = await ctx.db.operator.collection("plans").getOne(b.plan);
    expect(planB.tier).toBe("team");
    expect(await createTenant(ctx, { plan: null })).toMatchObject({ plan: "" });
  });

  it("creates plans, models, users and memberships with every override optional", async () => {
    const plan = await createPlan(ctx, { tier: "starter", rpm: 60 });
    expect(plan).toMatchObject({ tier: "starter", rpm: 60, markup_pct: 20, is_active: true });
    const model = await createModel(ctx, { required_tier: "enterprise" });
    expect(model).toMatchObject({
      required_tier: "enterprise",
      tier_restriction_mode: "minimum",
      is_available: true,
    });
    const { user, password } = await createUser(ctx);
    expect(user.email).toMatch(/@cloudfreedom\.test$/);
    expect(password.length).toBeGreaterThan(10);
    const tenant = await createTenant(ctx, { plan });
    const membership = await createMembership(ctx, { tenant, user, role: "admin" });
    expect(membership).toMatchObject({ tenant: tenant.id, user: user.id, role: "admin" });
  });

  it("creates an API key whose KeyRecord is in Redis under the secret's SHA-256", async () => {
    const tenant = await createTenant(ctx);
    const key = await createApiKey(ctx, tenant);
    expect(key.secret).toMatch(/^cf_test_[0-9A-Za-z]{32}$/);
    expect(key.hash).toBe(await hashApiKey(key.secret));
    expect(key.row).toMatchObject({ hash: key.hash, tenant: tenant.id, prefix: key.secret.slice(0, 12) });
    const stored = await storedKeyRecord(key.hash);
    expect(stored).toEqual(key.record);
    expect(stored).toMatchObject({
      key_id: key.row.id,
      tenant_id: tenant.id,
      tenant_slug: tenant.slug,
      tier: "pro",
      revoked: false,
      expires_at: null,
      tenant_limits: { budget_micros: 100_000_000, markup_pct: 20, rpm: null },
    });
  });

  it("applies key overrides: tier, scopes, limits, allowlist, expiry, revocation, user", async () => {
    const tenant = await createTenant(ctx);
    const { user } = await createUser(ctx);
    const expiresAt = Date.UTC(2030, 0, 1);
    const key = await createApiKey(ctx, tenant, {
      tier: "enterprise",
      scopes: ["chat"],
      limits: { rpm: 10, tpm: 1_000, budget_micros: 5_000_000 },
      models: ["gpt-4o-mini"],
      expiresAt,
      revoked: true,
      user,
    });
    expect(await storedKeyRecord(key.hash)).toMatchObject({
      tier: "enterprise",
      scopes: ["chat"],
      rpm: 10,
      tpm: 1_000,
      budget_micros: 5_000_000,
      models: ["gpt-4o-mini"],
      expires_at: expiresAt,
      revoked: true,
      user_id: user.id,
    });
    expect(keyRejection(key.record, Date.now())).toBe("revoked");
    const expired = await createApiKey(ctx, tenant, { expiresAt: Date.now() - 1_000 });
    expect(keyRejection(expired.record, Date.now())).toBe("expired");
  });
});
