import { bulkInsert, createDb, createPocketBase, type Db, toPbDate } from "@cloudfreedom/db";
import { newId } from "@cloudfreedom/shared";
import type { LeasedRedisDb } from "@cloudfreedom/testing";
import {
  createApiKey,
  createTenant,
  createUser,
  leaseRedisDb,
  type StartedPocketBase,
  startPocketBase,
} from "@cloudfreedom/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { pocketBaseCounterSource } from "../../src/counter-source.ts";

// Counters are rebuilt from what PocketBase holds: usage_logs sums merged with budgets snapshots.
let pocketbase: StartedPocketBase;
let redisDb: LeasedRedisDb;
let db: Db;

beforeAll(async () => {
  [pocketbase, redisDb] = await Promise.all([startPocketBase(), leaseRedisDb()]);
  db = createDb(
    createPocketBase({
      url: pocketbase.url,
      adminEmail: pocketbase.adminEmail,
      adminPassword: pocketbase.adminPassword,
    }),
  );
});
afterAll(async () => {
  await Promise.all([pocketbase?.stop(), redisDb?.release()]);
});

describe("pocketBaseCounterSource", () => {
  it("sums the period's usage per scope, counts its queries, and respects budget snapshots", async () => {
    const tenant = await createTenant({ db });
    const other = await createTenant({ db });
    const { user } = await createUser({ db });
    const key = await createApiKey({ db, redis: redisDb.redis }, tenant, { user });
    const logs = db.forTenant(tenant.id).collection("usage_logs");
    const row = (billed: number, status: "success" | "error", period = "2026-11", withUser = true) => ({
      event_id: newId("event"),
      source: "router" as const,
      api_key: key.row.id,
      user: withUser ? user.id : "",
      model: "gpt-test",
      billed_micros: billed,
      status,
      period,
      occurred_at: toPbDate(Date.now()),
    });
    await Promise.all([
      logs.create(row(100, "success")),
      logs.create(row(250, "success", "2026-11", false)),
      logs.create(row(0, "error")),
      logs.create(row(5_000, "success", "2026-10")),
      db
        .forTenant(other.id)
        .collection("usage_logs")
        .create({ ...row(7_000, "success"), api_key: "", user: "" }),
      db.client.call((pb) =>
        pb.collection("budgets").create({
          tenant: tenant.id,
          scope_type: "key",
          scope_id: "key_gone",
          period: "2026-11",
          spent_micros: 40,
          query_count: 0,
        }),
      ),
    ]);
    const totals = await pocketBaseCounterSource(db.client).load(tenant.id, "2026-11");
    expect(totals).toEqual({
      tenant: 350,
      users: { [user.id]: 100 },
      keys: { [key.row.id]: 350, key_gone: 40 },
      queries: 2,
    });
    expect(await pocketBaseCounterSource(db.client).load(tenant.id, "2026-12")).toEqual({
      tenant: 0,
      users: {},
      keys: {},
      queries: 0,
    });
  });

  it("reads a period of thousands of logs in one aggregate read, not page by page", async () => {
    const tenant = await createTenant({ db });
    const key = await createApiKey({ db, redis: redisDb.redis }, tenant);
    const rows = Array.from({ length: 2_500 }, (_, i) => ({
      tenant: tenant.id,
      event_id: newId("event"),
      source: "router",
      api_key: key.row.id,
      user: "",
      model: "gpt-test",
      billed_micros: 3,
      // Every tenth an error that cost nothing: it gave its query back.
      status: i % 10 === 0 ? "error" : "success",
      period: "2026-11",
      occurred_at: toPbDate(Date.now()),
    }));
    for (let i = 0; i < rows.length; i += 10)
      rows[i] = { ...rows[i], billed_micros: 0 } as (typeof rows)[number];
    const written = await bulkInsert(db.client, "usage_logs", rows, { uniqueBy: ["tenant", "event_id"] });
    expect(written.every((w) => w.status === "created")).toBe(true);
    let reads = 0;
    const counting = {
      ...db.client,
      call: <T>(fn: Parameters<typeof db.client.call<T>>[0]) => {
        reads++;
        return db.client.call(fn);
      },
    };
    const totals = await pocketBaseCounterSource(counting).load(tenant.id, "2026-11");
    expect(totals).toEqual({
      tenant: 2_250 * 3,
      users: {},
      keys: { [key.row.id]: 2_250 * 3 },
      queries: 2_250,
    });
    // The sums and the budget snapshots: two reads whatever the number of logs.
    expect(reads).toBe(2);
  });
});
