import { DURABLE_RETRY_HORIZON_MS } from "@cloudfreedom/queue";
import { newId } from "@cloudfreedom/shared";
import { type LeasedRedisDb, leaseRedisDb } from "@cloudfreedom/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Reservation } from "../../src/admission.ts";
import { admissionKeys } from "../../src/keys.ts";
import { admission, counters, outcome, request, settlement, tenant, windowTotals } from "./helpers.ts";

const delay = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

// The admit and settle scripts against a real Redis: holds, settlement, idempotency, budget and query denials.
let redisDb: LeasedRedisDb;

beforeAll(async () => {
  redisDb = await leaseRedisDb();
});
afterAll(async () => {
  await redisDb?.release();
});

describe("reserve and settle", () => {
  it("holds the maximum cost on every scope, then replaces it with the actual cost", async () => {
    const who = tenant();
    const gate = admission(redisDb.redis);
    const req = request(who, { micros: 1_000, tokens: 300 });
    const reservation = await gate.reserve(req);
    expect(reservation).toMatchObject({ id: req.reservationId, held: true, budgetRemaining: null });
    expect(await counters(redisDb.redis, who.tenantId)).toEqual({
      seeded: true,
      queries: 1,
      tenant: { spent: 0, reserved: 1_000 },
      users: { [who.userId]: { spent: 0, reserved: 1_000 } },
      keys: { [who.keyId]: { spent: 0, reserved: 1_000 } },
    });
    expect(await gate.settle([settlement(reservation, 420, 120)])).toEqual([{ kind: "settled" }]);
    expect(await counters(redisDb.redis, who.tenantId)).toEqual({
      seeded: true,
      queries: 1,
      tenant: { spent: 420, reserved: 0 },
      users: { [who.userId]: { spent: 420, reserved: 0 } },
      keys: { [who.keyId]: { spent: 420, reserved: 0 } },
    });
  });

  it("counts a settlement once however often it is repeated, in one batch or later", async () => {
    const who = tenant();
    const gate = admission(redisDb.redis);
    const req = request(who, { micros: 1_000, tokens: 10 });
    const again = settlement(await gate.reserve(req), 700, 10);
    expect(await gate.settle([again, again])).toEqual([{ kind: "settled" }, { kind: "duplicate" }]);
    expect(await gate.settle([again, { ...again, billedMicros: 999 }])).toEqual([
      { kind: "duplicate" },
      { kind: "duplicate" },
    ]);
    const after = await counters(redisDb.redis, who.tenantId);
    expect(after.tenant).toEqual({ spent: 700, reserved: 0 });
    expect(after.queries).toBe(1);
  });

  it("knows a call settled under the router's retention when the worker charges it under its own, and the other way round", async () => {
    const who = tenant();
    const gate = admission(redisDb.redis);
    // The router settled (its answer lost) and published the call unsettled: the worker charges it, ~33 h.
    const routerSettled = settlement(
      await gate.reserve(request(who, { micros: 1_000, tokens: 10 })),
      700,
      10,
    );
    expect(await gate.settle([routerSettled])).toEqual([{ kind: "settled" }]);
    expect(
      await gate.settle([{ ...routerSettled, onUnknown: "charge" }], {
        retentionMs: DURABLE_RETRY_HORIZON_MS,
      }),
    ).toEqual([{ kind: "duplicate" }]);
    // Charged by the worker first, a late router settlement of the same call changes nothing either.
    const workerCharged = settlement(
      await gate.reserve(request(who, { micros: 1_000, tokens: 10 })),
      300,
      10,
    );
    expect(await gate.settle([workerCharged], { retentionMs: DURABLE_RETRY_HORIZON_MS })).toEqual([
      { kind: "settled" },
    ]);
    expect(await gate.settle([workerCharged])).toEqual([{ kind: "duplicate" }]);
    expect((await counters(redisDb.redis, who.tenantId)).tenant).toEqual({ spent: 1_000, reserved: 0 });
  });

  it("charges an unknown reservation once, or leaves it alone when told to ignore it", async () => {
    const who = tenant();
    const gate = admission(redisDb.redis);
    await gate.reserve(request(who, { micros: 1, tokens: 1 }));
    const unknown = settlement(request(who, { micros: 0, tokens: 0 }), 500, 50);
    expect(await gate.settle([{ ...unknown, onUnknown: "ignore" }])).toEqual([{ kind: "unknown" }]);
    expect((await counters(redisDb.redis, who.tenantId)).tenant.spent).toBe(0);
    expect(await gate.settle([unknown, unknown])).toEqual([{ kind: "charged" }, { kind: "duplicate" }]);
    const after = await counters(redisDb.redis, who.tenantId);
    expect(after.tenant).toEqual({ spent: 500, reserved: 1 });
    expect(after.queries).toBe(2);
  });

  it("gives the query back when the call failed without cost", async () => {
    const who = tenant();
    const gate = admission(redisDb.redis);
    const req = request(who, { micros: 1_000, tokens: 10 });
    await gate.settle([settlement(await gate.reserve(req), 0, 0, { refundable: true })]);
    expect(await counters(redisDb.redis, who.tenantId)).toMatchObject({
      queries: 0,
      tenant: { spent: 0, reserved: 0 },
    });
  });
});

describe("budget denials", () => {
  it("admits exactly what the budget affords out of 200 concurrent requests, across two connections", async () => {
    const who = tenant();
    const second = redisDb.redis.duplicate();
    const gates = [admission(redisDb.redis), admission(second)] as const;
    const requests = Array.from({ length: 200 }, () =>
      request(who, { micros: 2_000, tokens: 10 }, { tenantBudget: 100_000 }),
    );
    const outcomes = await Promise.all(
      requests.map((req, i) => outcome(gates[i % 2 === 0 ? 0 : 1].reserve(req))),
    );
    second.disconnect();
    expect(outcomes.filter((o) => o === "admitted")).toHaveLength(50);
    expect(outcomes.filter((o) => o === "budget_exceeded")).toHaveLength(150);
    expect((await counters(redisDb.redis, who.tenantId)).tenant).toEqual({ spent: 0, reserved: 100_000 });
  });

  it("admits a tenant's concurrent requests in shared script runs, deciding each as if it ran alone", async () => {
    const who = tenant();
    const connection = redisDb.redis.duplicate();
    let scriptRuns = 0;
    const send = connection.sendCommand.bind(connection);
    connection.sendCommand = ((command: { name: string }) => {
      if (command.name === "evalsha" || command.name === "eval") scriptRuns += 1;
      return send(command as never);
    }) as typeof connection.sendCommand;
    const gate = admission(connection);
    const other = { ...who, keyId: newId("key", 12), userId: null };
    // Key 1 affords 10 requests, the tenant 30, the tenant's RPM 25: the key runs out first, then the RPM.
    const requests = Array.from({ length: 120 }, (_, i) =>
      request(
        i % 2 === 0 ? who : other,
        { micros: 1_000, tokens: 10 },
        {
          tenantBudget: 30_000,
          keyBudget: i % 2 === 0 ? 10_000 : null,
          tenantRpm: 25,
        },
      ),
    );
    const outcomes = await Promise.all(requests.map((req) => outcome(gate.reserve(req))));
    connection.disconnect();
    const count = (o: string, parity: number) =>
      outcomes.filter((x, i) => x === o && i % 2 === parity).length;
    expect(count("admitted", 0) + count("admitted", 1)).toBe(25);
    expect(count("admitted", 0)).toBe(10);
    expect(count("budget_exceeded", 0)).toBe(50);
    expect(count("rate_limited", 1)).toBe(45);
    const after = await counters(redisDb.redis, who.tenantId);
    expect(after.tenant).toEqual({ spent: 0, reserved: 25_000 });
    expect(after.keys[who.keyId]).toEqual({ spent: 0, reserved: 10_000 });
    expect(after.keys[other.keyId]).toEqual({ spent: 0, reserved: 15_000 });
    expect(after.queries).toBe(25);
    // One script run for the first request, then batches of whatever arrived meanwhile (+ the seed).
    expect(scriptRuns).toBeLessThan(requests.length / 4);
  });

  it("settles a mixed batch in one script run exactly as one settlement at a time would", async () => {
    const gate = admission(redisDb.redis);
    const run = async (who: ReturnType<typeof tenant>, together: boolean) => {
      const limits = { tenantTpm: 1_000_000, keyRpm: 1_000, tenantBudget: 10_000_000 };
      const other = { ...who, keyId: `${who.keyId}b`, userId: null };
      const held = await Promise.all(
        Array.from({ length: 12 }, (_, i) =>
          gate.reserve(request(i % 3 ? who : other, { micros: 1_000 + i, tokens: 50 + i }, limits)),
        ),
      );
      const calls = [
        ...held.map((r, i) => settlement(r, 400 + i, 20 + i, { refundable: i === 4 })),
        settlement(held[0] as Reservation, 999, 9), // a repeat: counted once
        settlement(request(who, { micros: 0, tokens: 0 }), 300, 30), // never held: charged
        { ...settlement(request(other, { micros: 0, tokens: 0 }), 300, 30), onUnknown: "ignore" as const },
      ];
      const statuses = together
        ? await gate.settle(calls)
        : (await Promise.all(calls.map((call, i) => delay(i).then(() => gate.settle([call]))))).flat();
      const limiters = await Promise.all(
        [admissionKeys.tenantRate(who.tenantId), admissionKeys.keyRate(who.tenantId, who.keyId)].map((key) =>
          windowTotals(redisDb.redis, key),
        ),
      );
      return {
        statuses,
        counters: await counters(redisDb.redis, who.tenantId),
        limiters,
        other: other.keyId,
      };
    };
    const a = tenant();
    const b = { tenantId: newId("tenant", 12), keyId: a.keyId, userId: a.userId };
    const [together, oneByOne] = [await run(a, true), await run(b, false)];
    expect(together.statuses).toEqual(oneByOne.statuses);
    expect(together.statuses.slice(-3)).toEqual([
      { kind: "duplicate" },
      { kind: "charged" },
      { kind: "unknown" },
    ]);
    expect(together.counters).toEqual(oneByOne.counters);
    expect(together.counters.tenant.reserved).toBe(0);
    expect(together.counters.queries).toBe(12);
    expect(together.limiters).toEqual(oneByOne.limiters);
  });

  it("denies with the tightest scope, and a settled request frees what it did not use", async () => {
    const who = tenant();
    const gate = admission(redisDb.redis);
    const limits = { tenantBudget: 1_000_000, userBudget: 10_000, keyBudget: 50_000 };
    const first = request(who, { micros: 8_000, tokens: 1 }, limits);
    const held = await gate.reserve(first);
    const denied = await gate
      .reserve(request(who, { micros: 3_000, tokens: 1 }, limits))
      .catch((error: unknown) => error);
    expect(denied).toMatchObject({
      code: "budget_exceeded",
      details: {
        scope: "user",
        scope_id: who.userId,
        limit: 10_000,
        spent: 0,
        reserved: 8_000,
        requested: 3_000,
      },
    });
    expect((denied as Error).message).toContain(
      "of 0.010, 0.000 is spent and 0.008 is held by requests in flight, and this request may cost up to 0.003",
    );
    await gate.settle([settlement(held, 5_000, 1)]);
    const second = await gate.reserve(request(who, { micros: 3_000, tokens: 1 }, limits));
    expect(second.budgetRemaining).toBe(2_000);
  });

  it("a key without a user is held on tenant and key only", async () => {
    const who = { ...tenant(), userId: null };
    const gate = admission(redisDb.redis);
    await gate.reserve(request(who, { micros: 10, tokens: 1 }, { userBudget: 1 }));
    expect((await counters(redisDb.redis, who.tenantId)).users).toEqual({});
  });
});

describe("query limit", () => {
  it("429 query_limit_exceeded once the period's queries are used", async () => {
    const who = tenant();
    const gate = admission(redisDb.redis);
    for (let i = 0; i < 3; i++) await gate.reserve(request(who, { micros: 1, tokens: 1 }, { queryLimit: 3 }));
    const denied = await gate
      .reserve(request(who, { micros: 1, tokens: 1 }, { queryLimit: 3 }))
      .catch((error: unknown) => error);
    expect(denied).toMatchObject({ code: "query_limit_exceeded", details: { limit: 3, used: 3 } });
  });

  it("keeps every key inside the tenant's hash tag", async () => {
    const who = tenant();
    const gate = admission(redisDb.redis);
    await gate.reserve(request(who, { micros: 1, tokens: 1 }, { keyRpm: 10, tenantRpm: 10 }));
    await gate.settle([settlement(await gate.reserve(request(who, { micros: 1, tokens: 1 })), 1, 1)]);
    const keys = await redisDb.redis.keys(`*${who.tenantId}*`);
    // budget:<period>, rsv:due, rate:tenant, rate:key:<key>, settled:<bucket>
    expect(keys).toHaveLength(5);
    for (const key of keys) expect(key.startsWith(admissionKeys.prefix(who.tenantId))).toBe(true);
  });
});
