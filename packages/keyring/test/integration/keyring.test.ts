import { createDb, createPocketBase, type Db, toPbDate } from "@cloudfreedom/db";
import { INVALIDATE_CHANNEL, KeyRecord, redisKeys } from "@cloudfreedom/shared";
import {
  createApiKey,
  createMembership,
  createPlan,
  createTenant,
  createUser,
  type LeasedRedisDb,
  leaseRedisDb,
  type StartedPocketBase,
  startPocketBase,
} from "@cloudfreedom/testing";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  DEAD_KEY_RETENTION_MS,
  loadPeriodAnchorDay,
  loadStandingLimits,
  publishKey,
  publishTenantKeys,
  reloadKeyByHash,
  resolveTier,
  tenantKeysStale,
  tierFallbackCount,
  withTenantKeyring,
} from "../../src/index.ts";

let pocketbase: StartedPocketBase;
let redisDb: LeasedRedisDb;
let db: Db;
let subscriber: Redis;
const messages: unknown[] = [];

beforeAll(async () => {
  [pocketbase, redisDb] = await Promise.all([startPocketBase(), leaseRedisDb()]);
  db = createDb(
    createPocketBase({
      url: pocketbase.url,
      adminEmail: pocketbase.adminEmail,
      adminPassword: pocketbase.adminPassword,
    }),
  );
  subscriber = new Redis(redisDb.url);
  // Pub/sub is server-wide, not per Redis db: test files running beside this one publish on the same channel
  // (the router's admission tests send junk on purpose). The assertions look for this file's own messages.
  subscriber.on("message", (_channel: string, message: string) => {
    try {
      messages.push(JSON.parse(message));
    } catch {
      // another file's junk
    }
  });
  await subscriber.subscribe(INVALIDATE_CHANNEL);
});

afterAll(async () => {
  subscriber?.disconnect();
  await Promise.all([pocketbase?.stop(), redisDb?.release()]);
});

const stored = async (hash: string) => {
  const raw = await redisDb.redis.get(redisKeys.keyRecord(hash));
  return raw === null ? null : KeyRecord.parse(JSON.parse(raw));
};
const until = async (predicate: () => boolean) => {
  for (let i = 0; i < 100 && !predicate(); i++) await new Promise((resolve) => setTimeout(resolve, 20));
  return predicate();
};
const subscribe = (tenant: string, status: string, tier: string, extra: Record<string, unknown> = {}) =>
  db
    .forTenant(tenant)
    .collection("subscriptions")
    .create({ status: status as "active", tier: tier as "pro", ...extra });

describe("resolveTier", () => {
  it("takes the plan's tier when the tenant has no subscription", async () => {
    const tenant = await createTenant(
      { db },
      { plan: await createPlan({ db }, { tier: "starter" }), tier: "free" },
    );
    expect(await resolveTier({ db, tenantId: tenant.id })).toEqual({ tier: "starter", source: "plan" });
  });

  it("prefers an active subscription, and a past-due one only within its grace period", async () => {
    const tenant = await createTenant(
      { db },
      { tier: "free", plan: await createPlan({ db }, { tier: "free" }) },
    );
    await subscribe(tenant.id, "canceled", "enterprise");
    expect((await resolveTier({ db, tenantId: tenant.id })).tier).toBe("free");
    await subscribe(tenant.id, "past_due", "team", { grace_until: toPbDate(Date.now() - 1000) });
    expect((await resolveTier({ db, tenantId: tenant.id })).tier).toBe("free");
    await subscribe(tenant.id, "past_due", "team", { grace_until: toPbDate(Date.now() + 60_000) });
    expect(await resolveTier({ db, tenantId: tenant.id })).toEqual({ tier: "team", source: "subscription" });
  });

  it("serves a tenant whose lookup fails as free, warns with the reason and counts it", async () => {
    const warnings: Array<Record<string, unknown>> = [];
    const before = tierFallbackCount();
    const logger = { warn: (fields: Record<string, unknown>) => warnings.push(fields) };
    expect(await resolveTier({ db, tenantId: "tnt_doesnotexist1", logger })).toEqual({
      tier: "free",
      source: "fallback",
    });
    expect(tierFallbackCount()).toBe(before + 1);
    expect(warnings).toEqual([
      expect.objectContaining({ tenant: "tnt_doesnotexist1", reason: expect.any(String) }),
    ]);
  });
});

describe("publishing KeyRecords", () => {
  it("writes a key's record with the tenant's current tier and announces the key", async () => {
    const tenant = await createTenant({ db }, { tier: "pro" });
    const key = await createApiKey({ db, redis: redisDb.redis }, tenant, { tier: "free" });
    const record = await publishKey({ db, redis: redisDb.redis, tenantId: tenant.id, keyId: key.row.id });
    expect(record).toMatchObject({ key_id: key.row.id, tenant_id: tenant.id, tier: "pro", revoked: false });
    expect(await stored(key.hash)).toEqual(record);
    expect(
      await until(() =>
        messages.some((m) => JSON.stringify(m) === JSON.stringify({ kind: "key", key_hash: key.hash })),
      ),
    ).toBe(true);
    expect(await redisDb.redis.pttl(redisKeys.keyRecord(key.hash))).toBe(-1);
  });

  it("keeps a revoked key's record for a day so the router can say it was revoked", async () => {
    const tenant = await createTenant({ db });
    const key = await createApiKey({ db, redis: redisDb.redis }, tenant);
    await db
      .forTenant(tenant.id)
      .collection("api_keys")
      .update(key.row.id, { revoked_at: toPbDate(Date.now()) });
    await publishKey({ db, redis: redisDb.redis, tenantId: tenant.id, keyId: key.row.id });
    expect((await stored(key.hash))?.revoked).toBe(true);
    const ttl = await redisDb.redis.pttl(redisKeys.keyRecord(key.hash));
    expect(ttl).toBeGreaterThan(DEAD_KEY_RETENTION_MS - 60_000);
    expect(ttl).toBeLessThanOrEqual(DEAD_KEY_RETENTION_MS);
  });

  it("propagates a subscription's tier to every key of the tenant, the tenant row and the audit log", async () => {
    const tenant = await createTenant(
      { db },
      { tier: "free", plan: await createPlan({ db }, { tier: "free" }) },
    );
    const keys = await Promise.all([1, 2, 3].map(() => createApiKey({ db, redis: redisDb.redis }, tenant)));
    await subscribe(tenant.id, "active", "enterprise");
    const result = await publishTenantKeys({ db, redis: redisDb.redis, tenantId: tenant.id });
    expect(result).toEqual({ tier: "enterprise", source: "subscription", previousTier: "free", keys: 3 });
    for (const key of keys) expect((await stored(key.hash))?.tier).toBe("enterprise");
    expect((await db.operator.collection("tenants").getOne(tenant.id)).tier).toBe("enterprise");
    const audit = await db.forTenant(tenant.id).collection("audit_logs").listAll({});
    expect(audit).toEqual([
      expect.objectContaining({
        action: "tenant.tier_change",
        actor_type: "system",
        metadata: { from: "free", to: "enterprise", source: "subscription" },
      }),
    ]);
    expect(
      await until(() =>
        messages.some((m) => JSON.stringify(m) === JSON.stringify({ kind: "tenant", tenant_id: tenant.id })),
      ),
    ).toBe(true);

    // Publishing again with nothing changed writes the same records and audits nothing new.
    expect(
      (await publishTenantKeys({ db, redis: redisDb.redis, tenantId: tenant.id })).previousTier,
    ).toBeNull();
    expect(await db.forTenant(tenant.id).collection("audit_logs").listAll({})).toHaveLength(1);
  });

  it("leaves every key as it was when the tenant's tier cannot be read, instead of writing them free", async () => {
    const tenant = await createTenant(
      { db },
      { tier: "pro", plan: await createPlan({ db }, { tier: "pro" }) },
    );
    const key = await createApiKey({ db, redis: redisDb.redis }, tenant);
    await publishTenantKeys({ db, redis: redisDb.redis, tenantId: tenant.id });
    const before = await stored(key.hash);
    expect(before?.tier).toBe("pro");
    const unreadable: Db = {
      ...db,
      forTenant: (tenantId) => {
        const scope = db.forTenant(tenantId);
        return {
          ...scope,
          collection: ((name: "subscriptions") => {
            const rows = scope.collection(name);
            if (name !== "subscriptions") return rows;
            return { ...rows, listAll: () => Promise.reject(new Error("PocketBase went away")) };
          }) as typeof scope.collection,
        };
      },
    };
    await expect(
      publishTenantKeys({ db: unreadable, redis: redisDb.redis, tenantId: tenant.id }),
    ).rejects.toMatchObject({
      code: "service_unavailable",
    });
    await expect(
      publishKey({ db: unreadable, redis: redisDb.redis, tenantId: tenant.id, keyId: key.row.id }),
    ).rejects.toMatchObject({ code: "service_unavailable" });
    expect(await stored(key.hash)).toEqual(before);
    expect((await db.operator.collection("tenants").getOne(tenant.id)).tier).toBe("pro");
  });

  it("takes nothing as published that Redis refused, and leaves the tenant's tier for the next publication", async () => {
    const tenant = await createTenant(
      { db },
      { tier: "free", plan: await createPlan({ db }, { tier: "free" }) },
    );
    const key = await createApiKey({ db, redis: redisDb.redis }, tenant);
    await subscribe(tenant.id, "active", "pro");
    // A replica after a failover: every write of a pipeline comes back as an error, exec itself resolves.
    const readOnly = new Proxy(redisDb.redis, {
      get(target, property) {
        if (property === "pipeline")
          return () => {
            const pipeline = target.pipeline();
            const exec = pipeline.exec.bind(pipeline);
            pipeline.exec = (async () =>
              ((await exec()) ?? []).map(([, value]) => [
                new Error("READONLY You can't write against a read only replica."),
                value,
              ])) as typeof pipeline.exec;
            return pipeline;
          };
        const value = Reflect.get(target, property);
        return typeof value === "function" ? value.bind(target) : value;
      },
    });
    await expect(publishTenantKeys({ db, redis: readOnly, tenantId: tenant.id })).rejects.toThrow("READONLY");
    expect((await db.operator.collection("tenants").getOne(tenant.id)).tier).toBe("free");
    expect(await tenantKeysStale({ db }, tenant.id)).toBe(true);
    await publishTenantKeys({ db, redis: redisDb.redis, tenantId: tenant.id });
    expect((await stored(key.hash))?.tier).toBe("pro");
    expect(await tenantKeysStale({ db }, tenant.id)).toBe(false);
  });

  it("reloads a record Redis lost from PocketBase by its hash, and knows nothing of an unknown hash", async () => {
    const tenant = await createTenant(
      { db },
      { tier: "team", plan: await createPlan({ db }, { tier: "team" }) },
    );
    const key = await createApiKey({ db, redis: redisDb.redis }, tenant);
    await redisDb.redis.del(redisKeys.keyRecord(key.hash));
    const record = await reloadKeyByHash({ db, redis: redisDb.redis, keyHash: key.hash });
    expect(record).toMatchObject({ key_id: key.row.id, tier: "team" });
    expect(await stored(key.hash)).toEqual(record);
    expect(await reloadKeyByHash({ db, redis: redisDb.redis, keyHash: "0".repeat(64) })).toBeNull();
    expect(await reloadKeyByHash({ db, redis: redisDb.redis, keyHash: "not-a-hash" })).toBeNull();
  });
});

/**
 * `db`, except that one read (every key of a tenant listed, or a tenant row read) waits, once it has read,
 * until `open()`: `read` resolves at that point, so a test can change the rows behind the reader's back.
 */
function pausedAfter(call: "keys listed" | "tenant read") {
  let open!: () => void;
  let reached!: () => void;
  const opened = new Promise<void>((resolve) => {
    open = resolve;
  });
  const read = new Promise<void>((resolve) => {
    reached = resolve;
  });
  const pause = <T>(value: T) => {
    reached();
    return opened.then(() => value);
  };
  const paused: Db = {
    client: db.client,
    operator: {
      collection: ((name: "tenants") => {
        const rows = db.operator.collection(name);
        if (call !== "tenant read" || name !== "tenants") return rows;
        return { ...rows, getOne: (id: string) => rows.getOne(id).then(pause) };
      }) as Db["operator"]["collection"],
    },
    forTenant: (tenantId) => {
      const scope = db.forTenant(tenantId);
      return {
        ...scope,
        collection: ((name: "api_keys") => {
          const rows = scope.collection(name);
          if (call !== "keys listed" || name !== "api_keys") return rows;
          return {
            ...rows,
            listAll: (query: Parameters<typeof rows.listAll>[0]) => rows.listAll(query).then(pause),
          };
        }) as typeof scope.collection,
      };
    },
  };
  return { db: paused, read, open };
}

describe("concurrent writers of a key's record", () => {
  const revokeMeanwhile = async (
    tenantId: string,
    keyId: string,
    paused: { read: Promise<void>; open: () => void },
  ) => {
    await paused.read;
    await db
      .forTenant(tenantId)
      .collection("api_keys")
      .update(keyId, { revoked_at: toPbDate(Date.now()) });
    const revoked = publishKey({ db, redis: redisDb.redis, tenantId, keyId });
    // Long enough for an unlocked revoke to have written its record before the paused writer goes on.
    await new Promise((resolve) => setTimeout(resolve, 150));
    paused.open();
    return revoked;
  };

  it("a tier refresh that listed a key before it was revoked does not write it back live", async () => {
    const tenant = await createTenant(
      { db },
      { tier: "free", plan: await createPlan({ db }, { tier: "free" }) },
    );
    const key = await createApiKey({ db, redis: redisDb.redis }, tenant);
    await subscribe(tenant.id, "active", "pro");
    const paused = pausedAfter("keys listed");
    const refresh = publishTenantKeys({ db: paused.db, redis: redisDb.redis, tenantId: tenant.id });
    await Promise.all([refresh, revokeMeanwhile(tenant.id, key.row.id, paused)]);
    expect(await stored(key.hash)).toMatchObject({ key_id: key.row.id, revoked: true, tier: "pro" });
  });

  it("a reload that read a key before it was revoked does not write it back live", async () => {
    const tenant = await createTenant({ db });
    const key = await createApiKey({ db, redis: redisDb.redis }, tenant);
    await redisDb.redis.del(redisKeys.keyRecord(key.hash));
    const paused = pausedAfter("tenant read");
    const reload = reloadKeyByHash({ db: paused.db, redis: redisDb.redis, keyHash: key.hash });
    await Promise.all([reload, revokeMeanwhile(tenant.id, key.row.id, paused)]);
    expect(await stored(key.hash)).toMatchObject({ key_id: key.row.id, revoked: true });
  });

  it("a reload does not queue behind a republication of the tenant holding its keyring lock", async () => {
    const tenant = await createTenant({ db });
    const key = await createApiKey({ db, redis: redisDb.redis }, tenant);
    await redisDb.redis.del(redisKeys.keyRecord(key.hash));
    let release!: () => void;
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    const holding = withTenantKeyring(redisDb.redis, tenant.id, () => held);
    // The lock's SET went out first on this connection, so it is held by now.
    expect(await redisDb.redis.exists(redisKeys.tenant(tenant.id, "keyring-lock"))).toBe(1);
    const record = await reloadKeyByHash({ db, redis: redisDb.redis, keyHash: key.hash });
    expect(record).toMatchObject({ key_id: key.row.id, revoked: false });
    expect(await redisDb.redis.exists(redisKeys.tenant(tenant.id, "keyring-lock"))).toBe(1);
    release();
    await holding;
    expect(await stored(key.hash)).toEqual(record);
  });

  it("a key whose row is gone is not published", async () => {
    const tenant = await createTenant({ db });
    const key = await createApiKey({ db, redis: redisDb.redis }, tenant);
    await db.forTenant(tenant.id).collection("api_keys").delete(key.row.id);
    await expect(
      publishKey({ db, redis: redisDb.redis, tenantId: tenant.id, keyId: key.row.id }),
    ).rejects.toMatchObject({ code: "not_found" });
  });
});

describe("standing budgets and the period anchor in KeyRecords", () => {
  const standing = (tenant: string, scope_type: "tenant" | "user" | "key", scope_id: string, limit: number) =>
    db
      .forTenant(tenant)
      .collection("budgets")
      .create({ scope_type, scope_id, period: "default", limit_micros: limit });

  it("takes the tenant's current subscription for its tier and periods, not another one updated later", async () => {
    const tenant = await createTenant(
      { db },
      { tier: "pro", plan: await createPlan({ db }, { tier: "pro" }) },
    );
    const current = await subscribe(tenant.id, "active", "pro", {
      stripe_subscription_id: `sub_cur_${tenant.id}`,
      current_period_start: "2026-03-15 09:30:00.000Z",
    });
    const other = await subscribe(tenant.id, "trialing", "pro", {
      stripe_subscription_id: `sub_oth_${tenant.id}`,
      current_period_start: "2026-03-03 09:30:00.000Z",
    });
    await db.operator
      .collection("tenants")
      .update(tenant.id, { stripe_subscription_id: current.stripe_subscription_id });
    await db.forTenant(tenant.id).collection("subscriptions").update(other.id, { tier: "team" });
    expect(await resolveTier({ db, tenantId: tenant.id })).toEqual({ tier: "pro", source: "subscription" });
    expect(await loadPeriodAnchorDay(db, tenant.id)).toBe(15);
    // The current one past due beyond its grace grants nothing: tier and periods both follow the other one.
    await db
      .forTenant(tenant.id)
      .collection("subscriptions")
      .update(current.id, { status: "past_due", grace_until: toPbDate(Date.now() - 60_000) });
    expect(await resolveTier({ db, tenantId: tenant.id })).toEqual({ tier: "team", source: "subscription" });
    expect(await loadPeriodAnchorDay(db, tenant.id)).toBe(3);
  });

  it("builds every key's record with the tenant's standing budget, its user's, and the subscription anchor", async () => {
    const plan = await createPlan({ db }, { tier: "pro", monthly_budget_micros: 50_000_000 });
    const tenant = await createTenant({ db }, { tier: "pro", plan });
    const [{ user: alice }, { user: bob }] = await Promise.all([createUser({ db }), createUser({ db })]);
    await createMembership({ db }, { tenant, user: alice, role: "member" });
    await createMembership({ db }, { tenant, user: bob, role: "member" });
    const ctx = { db, redis: redisDb.redis };
    const [aliceKey, bobKey, serviceKey] = await Promise.all([
      createApiKey(ctx, tenant, { user: alice }),
      createApiKey(ctx, tenant, { user: bob }),
      createApiKey(ctx, tenant, { user: null }),
    ]);
    await standing(tenant.id, "tenant", tenant.id, 2_000_000);
    await standing(tenant.id, "user", alice.id, 300_000);
    // 0 = "no limit of its own": bob has none.
    await standing(tenant.id, "user", bob.id, 0);
    await subscribe(tenant.id, "active", "pro", { current_period_start: "2026-03-15 09:30:00.000Z" });

    expect(await loadStandingLimits(db, tenant.id)).toEqual({
      tenant: 2_000_000,
      users: new Map([[alice.id, 300_000]]),
    });
    expect(await loadPeriodAnchorDay(db, tenant.id)).toBe(15);

    await publishTenantKeys({ db, redis: redisDb.redis, tenantId: tenant.id });
    const tenantLimits = { budget_micros: 2_000_000, period_anchor_day: 15 };
    expect(await stored(aliceKey.hash)).toMatchObject({
      user_id: alice.id,
      user_budget_micros: 300_000,
      tenant_limits: tenantLimits,
    });
    for (const key of [bobKey, serviceKey]) {
      const record = await stored(key.hash);
      expect(record?.tenant_limits).toMatchObject(tenantLimits);
      expect(record?.user_budget_micros).toBeUndefined();
    }

    // One key published on its own (auth creating or updating it) and a record Redis lost get the same.
    expect(await publishKey({ db, redis: redisDb.redis, tenantId: tenant.id, key: aliceKey.row })).toEqual(
      await stored(aliceKey.hash),
    );
    await redisDb.redis.del(redisKeys.keyRecord(aliceKey.hash));
    expect(await reloadKeyByHash({ db, redis: redisDb.redis, keyHash: aliceKey.hash })).toMatchObject({
      user_budget_micros: 300_000,
      tenant_limits: tenantLimits,
    });
  });

  it("falls back to the plan's budget and calendar months without standing limits or a live subscription", async () => {
    const plan = await createPlan({ db }, { tier: "starter", monthly_budget_micros: 4_000_000 });
    const tenant = await createTenant({ db }, { plan });
    const key = await createApiKey({ db, redis: redisDb.redis }, tenant);
    await standing(tenant.id, "tenant", tenant.id, 0);
    await subscribe(tenant.id, "canceled", "pro", { current_period_start: "2026-03-15 09:30:00.000Z" });
    expect(await loadPeriodAnchorDay(db, tenant.id)).toBeNull();
    const record = await publishKey({ db, redis: redisDb.redis, tenantId: tenant.id, keyId: key.row.id });
    expect(record.tenant_limits.budget_micros).toBe(4_000_000);
    expect(record.tenant_limits).not.toHaveProperty("period_anchor_day");
  });
});
