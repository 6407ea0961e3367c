import { type LeasedRedisDb, leaseRedisDb } from "@cloudfreedom/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { admissionKeys } from "../../src/keys.ts";
import { reapReservations } from "../../src/reap.ts";
import { HoldKeeper } from "../../src/renew.ts";
import { admission, counters, quietLogger, request, settlement, tenant } from "./helpers.ts";

// The holds of calls that outlive a hold's lifetime, against a real Redis and the real reaper.
let redisDb: LeasedRedisDb;

beforeAll(async () => {
  redisDb = await leaseRedisDb();
});
afterAll(async () => {
  await redisDb?.release();
});

const delay = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const TTL_MS = 600;

describe("HoldKeeper", () => {
  it("keeps a running call's hold past its lifetime while the reaper releases one nobody keeps", async () => {
    const who = tenant();
    const gate = admission(redisDb.redis, { reservationTtlMs: TTL_MS });
    const keeper = new HoldKeeper({ redis: redisDb.redis, reservationTtlMs: TTL_MS, logger: quietLogger() });
    try {
      const running = await gate.reserve(request(who, { micros: 1_000, tokens: 10 }));
      const leaked = await gate.reserve(request(who, { micros: 500, tokens: 5 }));
      keeper.keep(running);
      expect(keeper.size).toBe(1);

      await delay(TTL_MS * 2);
      expect(await reapReservations(redisDb.redis, { tenantIds: [who.tenantId] })).toEqual({
        tenants: 1,
        reaped: 1,
      });
      const due = await redisDb.redis.zrange(admissionKeys.due(who.tenantId), 0, -1);
      expect(due).toEqual([running.hold]);
      expect((await counters(redisDb.redis, who.tenantId)).tenant.reserved).toBe(1_000);

      // The call ends: its hold is settled (released, cost charged), and nothing renews it any more.
      keeper.release(running);
      expect(await gate.settle([settlement(running, 700, 8)])).toEqual([{ kind: "settled" }]);
      expect((await counters(redisDb.redis, who.tenantId)).tenant).toEqual({ spent: 700, reserved: 0 });
      expect(leaked.hold).not.toBe(running.hold);
    } finally {
      keeper.close();
    }
  });

  it("renews only holds kept longer than one interval, and never brings back a settled one", async () => {
    const who = tenant();
    // Holds taken for 30 s, renewed to 60 s from Redis' clock: a renewal always moves the deadline, even in
    // the millisecond the hold was taken (a renewal to the same deadline would count as no change).
    const gate = admission(redisDb.redis, { reservationTtlMs: 30_000 });
    const keeper = new HoldKeeper({ redis: redisDb.redis, reservationTtlMs: 60_000, logger: quietLogger() });
    try {
      const settled = await gate.reserve(request(who, { micros: 100, tokens: 1 }));
      const open = await gate.reserve(request(who, { micros: 100, tokens: 1 }));
      keeper.keep(settled);
      keeper.keep(open);
      // Kept for less than an interval (10 s here): nothing to renew yet.
      expect(await keeper.renew(Date.now())).toBe(0);

      await gate.settle([settlement(settled, 50, 1)]);
      const before = Number(await redisDb.redis.zscore(admissionKeys.due(who.tenantId), open.hold ?? ""));
      expect(await keeper.renew(Date.now() + 11_000)).toBe(1);
      expect(await redisDb.redis.zrange(admissionKeys.due(who.tenantId), 0, -1)).toEqual([open.hold]);
      const after = Number(await redisDb.redis.zscore(admissionKeys.due(who.tenantId), open.hold ?? ""));
      expect(after).toBeGreaterThanOrEqual(before + 30_000);
    } finally {
      keeper.close();
    }
  });

  it("gives up on a hold kept longer than maxKeepMs, logging it, and leaves it to the reaper", async () => {
    const who = tenant();
    const gate = admission(redisDb.redis, { reservationTtlMs: 60_000 });
    const logger = quietLogger();
    const keeper = new HoldKeeper({
      redis: redisDb.redis,
      reservationTtlMs: 60_000,
      maxKeepMs: 30_000,
      logger,
    });
    try {
      const stuck = await gate.reserve(request(who, { micros: 100, tokens: 1 }));
      keeper.keep(stuck);
      expect(await keeper.renew(Date.now() + 31_000)).toBe(0);
      expect(keeper.size).toBe(0);
      expect(logger.errors).toHaveLength(1);
    } finally {
      keeper.close();
    }
  });
});
