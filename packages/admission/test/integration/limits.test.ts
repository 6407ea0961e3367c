import { freePort, type LeasedRedisDb, leaseRedisDb } from "@cloudfreedom/testing";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { admissionKeys } from "../../src/keys.ts";
import {
  admission,
  counters,
  FakeSource,
  outcome,
  quietLogger,
  request,
  settlement,
  tenant,
} from "./helpers.ts";

// Rate limits, the reaper, reseeding after data loss, and what happens when Redis is gone.
let redisDb: LeasedRedisDb;

beforeAll(async () => {
  redisDb = await leaseRedisDb();
});
afterAll(async () => {
  await redisDb?.release();
});

describe("rate limits", () => {
  it("holds N requests per minute across two connections (two routers)", async () => {
    const who = tenant();
    const other = redisDb.redis.duplicate();
    const gates = [admission(redisDb.redis), admission(other)] as const;
    const results = await Promise.all(
      Array.from({ length: 30 }, (_, i) =>
        outcome(gates[i % 2 === 0 ? 0 : 1].reserve(request(who, { micros: 0, tokens: 1 }, { keyRpm: 10 }))),
      ),
    );
    other.disconnect();
    expect(results.filter((r) => r === "admitted")).toHaveLength(10);
    expect(results.filter((r) => r === "rate_limited")).toHaveLength(20);
  });

  it("says how long to wait and which limit applied", async () => {
    const who = tenant();
    const gate = admission(redisDb.redis);
    await gate.reserve(request(who, { micros: 0, tokens: 1 }, { tenantRpm: 1 }));
    const denied = await gate
      .reserve(request(who, { micros: 0, tokens: 1 }, { tenantRpm: 1 }))
      .catch((error: unknown) => error);
    expect(denied).toMatchObject({
      code: "rate_limited",
      details: { scope: "tenant", limit_type: "requests", limit: 1 },
    });
    const seconds = Number((denied as { headers: Record<string, string> }).headers["retry-after"]);
    expect(seconds).toBeGreaterThanOrEqual(1);
    expect(seconds).toBeLessThanOrEqual(120);
  });

  it("holds the token estimate, and settlement frees what the request did not use", async () => {
    const who = tenant();
    const gate = admission(redisDb.redis);
    const limits = { keyTpm: 1_000 };
    const first = request(who, { micros: 0, tokens: 600 }, limits);
    const admitted = await gate.reserve(first);
    expect(admitted.rate).toEqual({
      limitRequests: null,
      remainingRequests: null,
      limitTokens: 1_000,
      remainingTokens: 400,
    });
    expect(await outcome(gate.reserve(request(who, { micros: 0, tokens: 600 }, limits)))).toBe(
      "rate_limited",
    );
    await gate.settle([settlement(admitted, 0, 100)]);
    expect(await outcome(gate.reserve(request(who, { micros: 0, tokens: 600 }, limits)))).toBe("admitted");
  });

  it("a request bigger than the whole TPM limit is refused outright", async () => {
    const who = tenant();
    const denied = await admission(redisDb.redis)
      .reserve(request(who, { micros: 0, tokens: 5_000 }, { tenantTpm: 1_000 }))
      .catch((error: unknown) => error);
    expect(denied).toMatchObject({
      code: "rate_limited",
      details: { reason: "request_exceeds_limit", requested: 5_000 },
    });
  });
});

describe("reaper", () => {
  it("releases a reservation whose router died, and a late settlement still counts its cost once", async () => {
    const who = tenant();
    const gate = admission(redisDb.redis);
    const leaked = request(who, { micros: 9_000, tokens: 1 }, { tenantBudget: 10_000 });
    const hold = await gate.reserve({ ...leaked, ttlMs: 30 });
    expect(
      await outcome(gate.reserve(request(who, { micros: 2_000, tokens: 1 }, { tenantBudget: 10_000 }))),
    ).toBe("budget_exceeded");
    await new Promise((resolve) => setTimeout(resolve, 60));
    expect(await gate.reap({ tenantIds: [who.tenantId] })).toEqual({ tenants: 1, reaped: 1 });
    expect(await counters(redisDb.redis, who.tenantId)).toMatchObject({
      queries: 0,
      tenant: { spent: 0, reserved: 0 },
    });
    expect(
      await outcome(gate.reserve(request(who, { micros: 2_000, tokens: 1 }, { tenantBudget: 10_000 }))),
    ).toBe("admitted");
    expect(await gate.settle([settlement(hold, 3_000, 1)])).toEqual([{ kind: "charged" }]);
    expect(await counters(redisDb.redis, who.tenantId)).toMatchObject({
      queries: 2,
      tenant: { spent: 3_000, reserved: 2_000 },
    });
  });

  it("finds the tenants with due holds by itself", async () => {
    const who = tenant();
    const gate = admission(redisDb.redis);
    await gate.reserve({ ...request(who, { micros: 5, tokens: 1 }), ttlMs: 20 });
    await new Promise((resolve) => setTimeout(resolve, 40));
    const report = await gate.reap();
    expect(report.tenants).toBeGreaterThanOrEqual(1);
    expect(report.reaped).toBeGreaterThanOrEqual(1);
    expect(await redisDb.redis.exists(admissionKeys.due(who.tenantId))).toBe(0);
  });

  it("remembers settled ids in sets that expire on their own", async () => {
    const who = tenant();
    const gate = admission(redisDb.redis, { settledRetentionMs: 60_000 });
    const req = request(who, { micros: 5, tokens: 1 });
    await gate.settle([settlement(await gate.reserve(req), 5, 1)]);
    const [settled] = await redisDb.redis.keys(`${admissionKeys.prefix(who.tenantId)}settled:*`);
    expect(await redisDb.redis.smembers(settled ?? "")).toEqual([req.reservationId]);
    const ttl = await redisDb.redis.pttl(settled ?? "");
    expect(ttl).toBeGreaterThan(60_000);
    expect(ttl).toBeLessThanOrEqual(121_000);
    expect(await redisDb.redis.exists(admissionKeys.due(who.tenantId))).toBe(0);
  });
});

describe("reseeding after Redis lost its data", () => {
  it("rebuilds a period's counters from the source once, however many requests wait for it", async () => {
    const who = tenant();
    const source = new FakeSource(
      { tenant: 9_000, users: { [who.userId]: 4_000 }, keys: { [who.keyId]: 9_000 }, queries: 7 },
      50,
    );
    const other = redisDb.redis.duplicate();
    const gates = [admission(redisDb.redis, { source }), admission(other, { source })] as const;
    const limits = { tenantBudget: 10_000, queryLimit: 100 };
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        outcome(gates[i % 2 === 0 ? 0 : 1].reserve(request(who, { micros: 400, tokens: 1 }, limits))),
      ),
    );
    other.disconnect();
    expect(source.loads).toBe(1);
    expect(results.filter((r) => r === "admitted")).toHaveLength(2);
    expect(await counters(redisDb.redis, who.tenantId)).toMatchObject({
      seeded: true,
      queries: 9,
      tenant: { spent: 9_000, reserved: 800 },
    });
  });

  it("counts nothing while unseeded: a settlement waits for the reseed instead of counting twice", async () => {
    const who = tenant();
    const source = new FakeSource();
    const gate = admission(redisDb.redis, { source });
    const req = request(who, { micros: 1_000, tokens: 1 });
    const held = await gate.reserve(req);
    await redisDb.redis.del(admissionKeys.period(who.tenantId, req.period), admissionKeys.due(who.tenantId));
    source.totals = { tenant: 5_000, users: {}, keys: {}, queries: 3 };
    expect(await gate.settle([settlement(held, 800, 1)])).toEqual([{ kind: "charged" }]);
    expect(await counters(redisDb.redis, who.tenantId)).toMatchObject({
      seeded: true,
      queries: 4,
      tenant: { spent: 5_800, reserved: 0 },
    });
  });
});

describe("usage of a period that ended long ago (reported late)", () => {
  it("is charged to counters rebuilt for it, which live on long enough to be used", async () => {
    const who = tenant();
    const gate = admission(redisDb.redis, { source: new FakeSource() });
    const old = "2025-01";
    const late = { ...request(who, { micros: 0, tokens: 0 }), period: old };
    expect(await gate.settle([settlement(late, 700, 10)])).toEqual([{ kind: "charged" }]);
    expect(await counters(redisDb.redis, who.tenantId, old)).toMatchObject({
      seeded: true,
      tenant: { spent: 700 },
    });
    expect(await redisDb.redis.pttl(admissionKeys.period(who.tenantId, old))).toBeGreaterThan(
      23 * 3600 * 1000,
    );
  });
});

describe("when Redis is unreachable", () => {
  const unreachable = async () =>
    new Redis({
      port: await freePort(),
      lazyConnect: true,
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      retryStrategy: () => null,
    });

  it("fails closed with 503 admission_unavailable", async () => {
    const redis = await unreachable();
    const denied = await admission(redis)
      .reserve(request(tenant(), { micros: 1, tokens: 1 }))
      .catch((error: unknown) => error);
    expect(denied).toMatchObject({ code: "admission_unavailable", headers: { "retry-after": "1" } });
    redis.disconnect();
  });

  it("with fail-open, admits without a hold and logs it loudly", async () => {
    const redis = await unreachable();
    const logger = quietLogger();
    const reservation = await admission(redis, { failOpen: true, logger }).reserve(
      request(tenant(), { micros: 1, tokens: 1 }),
    );
    expect(reservation.held).toBe(false);
    expect(logger.errors[0]).toContain("BUDGET_FAIL_OPEN");
    redis.disconnect();
  });

  it("a settlement that cannot reach Redis is reported failed, for the caller to retry", async () => {
    const redis = await unreachable();
    const who = tenant();
    const results = await admission(redis).settle([settlement(request(who, { micros: 1, tokens: 1 }), 1, 1)]);
    expect(results[0]?.kind).toBe("failed");
    redis.disconnect();
  });
});
