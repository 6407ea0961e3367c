import { createDb, createPocketBase } from "@cloudfreedom/db";
import { publishTenantKeys } from "@cloudfreedom/keyring";
import { generateApiKeySecret, hashApiKey, KeyRecord, redisKeys } from "@cloudfreedom/shared";
import {
  type LeasedRedisDb,
  leaseRedisDb,
  type StartedPocketBase,
  startPocketBase,
} from "@cloudfreedom/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { clearPlatformState, loadSeedData, seed } from "../../index.ts";

const { models, plans } = loadSeedData();
const seedPlan = (slug: string) => plans.find((plan) => plan.slug === slug);

let pocketbase: StartedPocketBase;
let redisDb: LeasedRedisDb;

beforeAll(async () => {
  [pocketbase, redisDb] = await Promise.all([startPocketBase(), leaseRedisDb()]);
});
afterAll(async () => {
  await Promise.all([pocketbase?.stop(), redisDb?.release()]);
});

const operatorDb = () =>
  createDb(
    createPocketBase({
      url: pocketbase.url,
      adminEmail: pocketbase.adminEmail,
      adminPassword: pocketbase.adminPassword,
    }),
  );

async function storedRecord(secret: string): Promise<KeyRecord> {
  const stored = await redisDb.redis.get(redisKeys.keyRecord(await hashApiKey(secret)));
  return KeyRecord.parse(JSON.parse(stored ?? "null"));
}

const options = () => ({
  pocketbaseUrl: pocketbase.url,
  adminEmail: pocketbase.adminEmail,
  adminPassword: pocketbase.adminPassword,
  redisUrl: redisDb.url,
  log: () => {},
});

describe("seed", () => {
  it("is idempotent: a second run reuses the demo key and duplicates nothing", async () => {
    const first = await seed({ ...options(), demoKey: undefined });
    expect(first.demoKey).toMatch(/^cf_live_[0-9A-Za-z]{32}$/);
    const second = await seed({ ...options(), demoKey: first.demoKey });
    expect(second).toEqual(first);

    const db = createDb(
      createPocketBase({
        url: pocketbase.url,
        adminEmail: pocketbase.adminEmail,
        adminPassword: pocketbase.adminPassword,
      }),
    );
    expect((await db.operator.collection("plans").listAll({})).length).toBe(5);
    expect((await db.operator.collection("models").listAll({})).length).toBe(models.length);
    const tenants = await db.operator.collection("tenants").listAll({});
    expect(tenants.map((t) => t.slug)).toEqual(["demo"]);
    const keys = await db
      .forTenant(tenants[0]?.id ?? "")
      .collection("api_keys")
      .listAll({});
    expect(keys).toHaveLength(1);
  });

  it("keeps the Stripe prices an operator set on a plan when it runs again", async () => {
    const first = await seed({ ...options(), demoKey: undefined });
    const db = createDb(
      createPocketBase({
        url: pocketbase.url,
        adminEmail: pocketbase.adminEmail,
        adminPassword: pocketbase.adminPassword,
      }),
    );
    const starter = await db.operator.collection("plans").getFirst({ filter: "slug = 'starter'" });
    await db.operator.collection("plans").update(starter?.id ?? "", {
      stripe_price_id: "price_starter",
      stripe_overage_price_id: "price_overage",
    });
    await seed({ ...options(), demoKey: first.demoKey });
    expect(await db.operator.collection("plans").getOne(starter?.id ?? "")).toMatchObject({
      stripe_price_id: "price_starter",
      stripe_overage_price_id: "price_overage",
    });
  });

  it("writes the demo key's KeyRecord to Redis again after Redis lost it", async () => {
    const { demoKey } = await seed({ ...options(), demoKey: undefined });
    await redisDb.redis.flushdb();
    await seed({ ...options(), demoKey });
    const stored = await redisDb.redis.get(redisKeys.keyRecord(await hashApiKey(demoKey)));
    const record = KeyRecord.parse(JSON.parse(stored ?? "null"));
    expect(record).toMatchObject({
      tenant_slug: "demo",
      tier: "pro",
      revoked: false,
      tenant_limits: { query_limit: 1000, budget_micros: 100_000_000, markup_pct: 20 },
    });
    // The quick start tries the billing API with the demo key.
    expect(record.scopes).toEqual(["chat", "completions", "embeddings", "models", "billing"]);
  });

  it("writes the demo key's KeyRecord as billing does: a standing tenant budget survives a restart", async () => {
    const { demoKey } = await seed({ ...options(), demoKey: undefined });
    const db = operatorDb();
    const demo = await db.operator.collection("tenants").getFirst({ filter: "slug = 'demo'" });
    await db
      .forTenant(demo?.id ?? "")
      .collection("budgets")
      .create({ scope_type: "tenant", scope_id: demo?.id ?? "", period: "default", limit_micros: 7_000_000 });
    await seed({ ...options(), demoKey });
    expect((await storedRecord(demoKey)).tenant_limits.budget_micros).toBe(7_000_000);
  });

  it("refreshes the keys of every tenant on a plan the seed file changes back, and only then", async () => {
    const { demoKey } = await seed({ ...options(), demoKey: undefined });
    const db = operatorDb();
    const starter = await db.operator.collection("plans").getFirst({ filter: "slug = 'starter'" });
    const other = await db.operator.collection("tenants").create({
      slug: "other",
      name: "Other",
      plan: starter?.id ?? "",
      tier: "starter",
      currency: "EUR",
      status: "active",
    });
    const secret = generateApiKeySecret("cf_live");
    await db
      .forTenant(other.id)
      .collection("api_keys")
      .create({ hash: await hashApiKey(secret), prefix: "cf_live_x", name: "k", scopes: ["chat"] });
    const lines: string[] = [];
    const log = (line: string) => lines.push(line);
    await seed({ ...options(), demoKey, log });
    expect(lines.filter((line) => line.includes("changed from the seed file"))).toEqual([]);
    // An operator raised the plan's limits (and the keys were refreshed with them), then the start runs again.
    await db.operator.collection("plans").update(starter?.id ?? "", { rpm: 9_999, query_limit: 99_999 });
    await seed({ ...options(), demoKey, log });
    expect((await storedRecord(secret)).tenant_limits.rpm).toBe(seedPlan("starter")?.rpm);
    expect(lines).toContain("1 plan(s) changed from the seed file: refreshed the keys of 2 tenant(s)");
    expect(await redisDb.redis.smembers(redisKeys.seedPlansToRefresh)).toEqual([]);

    // A start cut short after it changed the plan row, before the keys: the next start still refreshes them.
    await db.operator.collection("plans").update(starter?.id ?? "", { rpm: 9_999 });
    await publishTenantKeys({ db, redis: redisDb.redis, tenantId: other.id });
    expect((await storedRecord(secret)).tenant_limits.rpm).toBe(9_999);
    await db.operator.collection("plans").update(starter?.id ?? "", { rpm: seedPlan("starter")?.rpm ?? 0 });
    await redisDb.redis.sadd(redisKeys.seedPlansToRefresh, starter?.id ?? "");
    await seed({ ...options(), demoKey, log });
    expect((await storedRecord(secret)).tenant_limits.rpm).toBe(seedPlan("starter")?.rpm);
    expect(await redisDb.redis.smembers(redisKeys.seedPlansToRefresh)).toEqual([]);
  });

  it("clears what an earlier platform left in Redis (its keys, counters, queues), and nothing else", async () => {
    const { demoKey } = await seed({ ...options(), demoKey: undefined });
    await redisDb.redis.set("other:app:key", "kept");
    await redisDb.redis.set("cf:test:lease:99", "a suite's lease");
    await redisDb.redis.set("cf:usage:id", "7");
    expect(await redisDb.redis.exists(redisKeys.keyRecord(await hashApiKey(demoKey)))).toBe(1);
    expect(await clearPlatformState(redisDb.url)).toBeGreaterThanOrEqual(2);
    expect(await redisDb.redis.keys("cf:*")).toEqual(["cf:test:lease:99"]);
    expect(await redisDb.redis.get("other:app:key")).toBe("kept");
  });

  it("disables the stored sandbox provider when started without the sandbox, and enables it again with it", async () => {
    const sandbox = { baseUrl: "http://127.0.0.1:4900/v1", apiKey: "sk-sandbox", masterKey: "ab".repeat(32) };
    const lines: string[] = [];
    const { demoKey } = await seed({ ...options(), demoKey: undefined, sandbox });
    const db = createDb(
      createPocketBase({
        url: pocketbase.url,
        adminEmail: pocketbase.adminEmail,
        adminPassword: pocketbase.adminPassword,
      }),
    );
    const stored = () =>
      db.operator.collection("providers").getFirst({ filter: "name = {:name}", params: { name: "sandbox" } });
    expect((await stored())?.enabled).toBe(true);

    await seed({ ...options(), demoKey, log: (line: string) => lines.push(line) });
    const disabled = await stored();
    expect(disabled?.enabled).toBe(false);
    // The credential stays, so turning the sandbox back on needs nothing else.
    expect(disabled?.credentials_encrypted).not.toBe("");
    expect(lines).toContain(
      'sandbox provider disabled (SANDBOX=false); models "sandbox" and "sandbox-embedding" answer no more',
    );

    await seed({ ...options(), demoKey, sandbox });
    expect((await stored())?.enabled).toBe(true);
  });
});
