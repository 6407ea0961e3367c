import { type LeasedRedisDb, leaseRedisDb } from "@cloudfreedom/testing";
import type { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import type { Admission, Reservation } from "../../src/admission.ts";
import type { AdmissionLimits } from "../../src/cost.ts";
import { admissionKeys } from "../../src/keys.ts";
import { HoldPrefetcher } from "../../src/prefetch.ts";
import {
  admission,
  counters,
  outcome,
  PERIOD,
  quietLogger,
  request,
  settlement,
  tenant,
  windowTotals,
} from "./helpers.ts";

// Holds taken ahead of requests (the router's admission far from the limits) against a real Redis.
let redisDb: LeasedRedisDb;

beforeAll(async () => {
  redisDb = await leaseRedisDb();
});
afterAll(async () => {
  await redisDb?.release();
});

const delay = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function until(condition: () => boolean | Promise<boolean>, what: string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (await condition()) return;
    await delay(10);
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** A router's admission: its own Redis connection, its own prefetcher; `exact` counts script runs for one request. */
function router(redis: Redis, options: { horizonMs?: number; maxHolds?: number } = {}) {
  const gate = admission(redis);
  const exact = vi.spyOn(gate, "reserve");
  const holds = new HoldPrefetcher(gate, {
    maxHolds: options.maxHolds ?? 32,
    horizonMs: options.horizonMs ?? 60_000,
    logger: quietLogger(),
  });
  return { gate, exact, holds };
}

const requestsInWindow = async (redis: Redis, tenantId: string, keyId: string) =>
  (await windowTotals(redis, admissionKeys.keyRate(tenantId, keyId))).requests;

describe("holds taken ahead", () => {
  it("serve a key's next requests without a script run, each settled like its own, the rest given back", async () => {
    const who = tenant();
    const { gate, exact, holds } = router(redisDb.redis);
    const cost = { micros: 1_000, tokens: 300 };
    const first = await holds.reserve(request(who, cost));
    await until(() => holds.prefetched === 4, "four holds taken ahead");
    // Holds are sized for requests up to the next power of two of this one's cost.
    expect(await counters(redisDb.redis, who.tenantId)).toMatchObject({
      queries: 5,
      tenant: { spent: 0, reserved: 1_000 + 4 * 1_024 },
    });

    const taken: Reservation[] = [];
    for (let i = 0; i < 3; i++) taken.push(await holds.reserve(request(who, cost)));
    expect(exact).toHaveBeenCalledTimes(1);
    expect(taken.every((r) => r.held && r.hold !== null)).toBe(true);
    expect(new Set([first, ...taken].map((r) => r.id)).size).toBe(4);

    const results = await gate.settle([first, ...taken].map((r) => settlement(r, 700, 100)));
    expect(results).toEqual(Array.from({ length: 4 }, () => ({ kind: "settled" })));
    await holds.close();
    expect(holds.prefetched).toBe(0);
    expect(await counters(redisDb.redis, who.tenantId)).toMatchObject({
      queries: 4,
      tenant: { spent: 4 * 700, reserved: 0 },
      keys: { [who.keyId]: { spent: 4 * 700, reserved: 0 } },
    });
  });

  it("give back what no request took within the horizon: its hold, its query and its place in the rate window", async () => {
    const who = tenant();
    const { gate, holds } = router(redisDb.redis, { horizonMs: 300 });
    const limits: Partial<AdmissionLimits> = { keyRpm: 1_000, tenantBudget: 10_000_000 };
    const first = await holds.reserve(request(who, { micros: 1_000, tokens: 10 }, limits));
    await until(() => holds.prefetched === 4, "four holds taken ahead");
    expect(await requestsInWindow(redisDb.redis, who.tenantId, who.keyId)).toBe(5);
    await until(() => holds.prefetched === 0, "the unused holds to expire");
    await until(
      async () => (await counters(redisDb.redis, who.tenantId)).tenant.reserved === 1_000,
      "the unused holds to be given back",
    );
    expect(await counters(redisDb.redis, who.tenantId)).toMatchObject({ queries: 1 });
    expect(await requestsInWindow(redisDb.redis, who.tenantId, who.keyId)).toBe(1);
    await gate.settle([settlement(first, 900, 10)]);
    expect((await counters(redisDb.redis, who.tenantId)).tenant).toEqual({ spent: 900, reserved: 0 });
    await holds.close();
  });

  it("stop near a limit: a budget for 50 requests admits 50, one script run each", async () => {
    const who = tenant();
    const { exact, holds } = router(redisDb.redis);
    const results = await Promise.all(
      Array.from({ length: 200 }, () =>
        outcome(holds.reserve(request(who, { micros: 1_000, tokens: 1 }, { tenantBudget: 50_000 }))),
      ),
    );
    expect(results.filter((r) => r === "admitted")).toHaveLength(50);
    expect(results.filter((r) => r === "budget_exceeded")).toHaveLength(150);
    expect(holds.prefetched).toBe(0);
    expect(exact).toHaveBeenCalledTimes(200);
    await holds.close();
  });
});

/**
 * Two routers, each with 16 clients in a closed loop (admit, settle the actual cost, again) until each client
 * was refused three times in a row; then, once every hold taken ahead was given back (the horizon passed),
 * one client asks again until refused. Returns what each phase admitted and how many were script runs.
 */
async function drain(limits: Partial<AdmissionLimits>, cost: { micros: number; tokens: number }) {
  const who = tenant();
  const other = redisDb.redis.duplicate();
  const routers = [router(redisDb.redis), router(other)];
  let burst = 0;
  await Promise.all(
    routers.flatMap(({ gate, holds }) =>
      Array.from({ length: 16 }, async () => {
        for (let refusedInARow = 0; refusedInARow < 3; ) {
          try {
            const reservation = await holds.reserve(request(who, cost, limits));
            burst += 1;
            refusedInARow = 0;
            await gate.settle([settlement(reservation, cost.micros, cost.tokens)]);
          } catch (error) {
            if (!(error instanceof Error && "code" in error)) throw error;
            refusedInARow += 1;
          }
        }
      }),
    ),
  );
  await Promise.all(routers.map(({ holds }) => holds.close()));
  other.disconnect();
  const scriptRuns = routers.reduce((n, { exact }) => n + exact.mock.calls.length, 0);
  const gate = admission(redisDb.redis);
  let later = 0;
  for (;;) {
    const reservation = await gate.reserve(request(who, cost, limits)).catch(() => null);
    if (!reservation) break;
    later += 1;
    await gate.settle([settlement(reservation, cost.micros, cost.tokens)]);
  }
  return { who, burst, later, scriptRuns };
}

describe("limits hold across two prefetching routers", () => {
  it("a budget for 2,000 requests is never overspent and admits 2,000, mostly without a script run", async () => {
    const { who, burst, later, scriptRuns } = await drain(
      { tenantBudget: 2_000_000 },
      { micros: 1_000, tokens: 1 },
    );
    // Near the limit, a request may be refused while the other router still holds a few unused holds: at
    // most 1/16 of what was left when they were taken. They come back within the horizon.
    expect(burst).toBeGreaterThanOrEqual(2_000 * (15 / 16));
    expect(burst + later).toBe(2_000);
    expect(scriptRuns).toBeLessThan(burst / 2);
    expect(await counters(redisDb.redis, who.tenantId)).toMatchObject({
      queries: 2_000,
      tenant: { spent: 2_000_000, reserved: 0 },
    });
  });

  it("a rate limit of 600 per minute admits 600 and no more", async () => {
    // Within one minute window: past a window's end the sliding window lets the next minute's share in, so a
    // drain that crossed a minute of Redis's clock is run again (a fresh tenant), once in a minute at most.
    const minute = async () => Math.floor(Number((await redisDb.redis.time())[0]) / 60);
    let drained: Awaited<ReturnType<typeof drain>>;
    for (let attempt = 1; ; attempt++) {
      const startedIn = await minute();
      drained = await drain({ keyRpm: 600 }, { micros: 0, tokens: 1 });
      if ((await minute()) === startedIn) break;
      if (attempt === 3) throw new Error("three drains in a row crossed a minute boundary");
    }
    const { who, burst, later, scriptRuns } = drained;
    expect(burst).toBeGreaterThanOrEqual(600 * (15 / 16));
    expect(burst + later).toBe(600);
    expect(scriptRuns).toBeLessThan(burst / 2);
    expect(await requestsInWindow(redisDb.redis, who.tenantId, who.keyId)).toBe(600);
  });
});

describe("room: a hold taken ahead is granted only while every limit still fits 16 such requests", () => {
  const each = { micros: 1_000, tokens: 10 };
  const cases: Array<[string, Partial<AdmissionLimits>, Partial<AdmissionLimits>]> = [
    ["budget", { tenantBudget: 16_000 }, { tenantBudget: 15_999 }],
    ["query limit", { queryLimit: 16 }, { queryLimit: 15 }],
    ["requests per minute", { keyRpm: 16 }, { tenantRpm: 15 }],
    ["tokens per minute", { keyTpm: 160 }, { tenantTpm: 159 }],
  ];
  for (const [name, fits, short] of cases) {
    it(`${name}: granted with room for 16, refused with room for 15, while a request still fits`, async () => {
      const gate = admission(redisDb.redis);
      const prefetch = async (limits: Partial<AdmissionLimits>) => {
        const who = tenant();
        await gate.reseed(who.tenantId, PERIOD);
        return gate.prefetch([{ ...request(who, each, limits), room: 16 }]);
      };
      const [granted] = await prefetch(fits);
      expect(granted).toMatchObject({ held: true });
      expect(await prefetch(short)).toEqual([null]);
      expect(await outcome(gate.reserve(request(tenant(), each, short)))).toBe("admitted");
    });
  }
});

describe("without prefetching", () => {
  it("every request is its own script run", async () => {
    const who = tenant();
    const gate: Admission = admission(redisDb.redis);
    const exact = vi.spyOn(gate, "reserve");
    const holds = new HoldPrefetcher(gate, { maxHolds: 0, horizonMs: 1_000, logger: quietLogger() });
    for (let i = 0; i < 5; i++) await holds.reserve(request(who, { micros: 10, tokens: 1 }));
    expect(exact).toHaveBeenCalledTimes(5);
    expect(holds.prefetched).toBe(0);
    expect((await counters(redisDb.redis, who.tenantId)).queries).toBe(5);
    await holds.close();
  });
});
