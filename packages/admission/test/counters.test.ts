import type { PocketBaseClient } from "@cloudfreedom/db";
import type { UsageEvent } from "@cloudfreedom/shared";
import { describe, expect, it } from "vitest";
import {
  addPeriodSlices,
  emptyTotals,
  mergeSnapshots,
  pocketBaseCounterSource,
} from "../src/counter-source.ts";
import { parsePeriodHash } from "../src/read.ts";
import { seedFields } from "../src/reseed.ts";
import { settlementOf } from "../src/usage.ts";

const row = (billed: number, user: string, key: string, queries = 1) => ({
  id: `tnt:2026-11:${key}:${user}`,
  billed_micros: billed,
  user,
  api_key: key,
  queries,
});

describe("rebuilding counters from usage sums per key and user", () => {
  it("sums spend per tenant, user and key, and adds up the queries", () => {
    const totals = addPeriodSlices(emptyTotals(), [
      row(100, "usr_a", "key_1", 3),
      row(50, "usr_a", "key_2"),
      row(25, "", "key_2"),
      row(0, "usr_b", "", 0),
      row(7, "usr_b", "key_3"),
    ]);
    expect(totals).toEqual({
      tenant: 182,
      users: { usr_a: 150, usr_b: 7 },
      keys: { key_1: 100, key_2: 75, key_3: 7 },
      queries: 6,
    });
  });

  it("takes per scope the larger of logs and budget snapshots, never their sum", () => {
    const fromLogs = addPeriodSlices(emptyTotals(), [row(100, "usr_a", "key_1"), row(40, "usr_b", "key_2")]);
    const merged = mergeSnapshots(fromLogs, [
      { scope_type: "tenant", scope_id: "tnt", spent_micros: 120, query_count: 5 },
      { scope_type: "user", scope_id: "usr_a", spent_micros: 130, query_count: 0 },
      { scope_type: "key", scope_id: "key_9", spent_micros: 3, query_count: 0 },
    ]);
    expect(merged).toEqual({
      tenant: 140,
      users: { usr_a: 130, usr_b: 40 },
      keys: { key_1: 100, key_2: 40, key_9: 3 },
      queries: 5,
    });
    expect(fromLogs.users.usr_a).toBe(100);
  });

  it("writes the totals as period-hash fields that read back as the same numbers", () => {
    const totals = { tenant: 140, users: { usr_a: 130 }, keys: { key_1: 100 }, queries: 5 };
    const fields = seedFields(totals);
    expect(fields).toEqual([
      "spent:tenant",
      "140",
      "queries",
      "5",
      "spent:user:usr_a",
      "130",
      "spent:key:key_1",
      "100",
    ]);
    const hash: Record<string, string> = { seeded: "1", "rsv:tenant": "9", "rsv:key:key_1": "9" };
    for (let i = 0; i < fields.length; i += 2) hash[fields[i] ?? ""] = fields[i + 1] ?? "";
    expect(parsePeriodHash(hash)).toEqual({
      seeded: true,
      queries: 5,
      tenant: { spent: 140, reserved: 9 },
      users: { usr_a: { spent: 130, reserved: 0 } },
      keys: { key_1: { spent: 100, reserved: 9 } },
    });
    expect(parsePeriodHash({}).seeded).toBe(false);
  });
});

describe("settlement of a usage event (billing worker)", () => {
  const event: UsageEvent = {
    event_id: "event_abc",
    request_id: "req_1",
    tenant_id: "tnt_a",
    key_id: "key_1",
    user_id: null,
    model: "gpt",
    provider: "openai",
    deployment: "openai/gpt",
    reservation_id: "rsv_1",
    period: "2026-11",
    tokens: { input: 10, cached_input: 2, cache_write: 0, cache_write_1h: 0, output: 5, reasoning: 0 },
    cost_micros: 10,
    billed_micros: 12,
    estimated: false,
    status: "success",
    error_code: null,
    latency_ms: 5,
    stream: false,
    source: "router",
    occurred_at: "2026-11-23T10:00:00.000Z",
  };

  it("confirms a router event without ever charging it a second time", () => {
    expect(settlementOf(event)).toEqual({
      reservationId: "rsv_1",
      tenantId: "tnt_a",
      keyId: "key_1",
      userId: null,
      period: "2026-11",
      billedMicros: 12,
      tokens: 15,
      refundable: false,
      onUnknown: "ignore",
    });
  });

  it("charges usage reported through the API, idempotently by event id when it held nothing", () => {
    const api = settlementOf({
      ...event,
      source: "api",
      reservation_id: null,
      status: "error",
      billed_micros: 0,
    });
    expect(api).toMatchObject({ reservationId: "event_abc", onUnknown: "charge", refundable: true });
  });
});

describe("pocketBaseCounterSource reading the view", () => {
  it("counts a pair once when a page shift repeats its row", async () => {
    // What a pair first seen between two pages does: the next page starts with the last row already read.
    const pages = [
      [row(10, "usr_a", "key_1"), row(20, "usr_b", "key_1")],
      [row(20, "usr_b", "key_1"), row(5, "usr_a", "key_2")],
    ];
    const pb = {
      collection: (name: string) => ({
        getFullList: async () => (name === "usage_period_totals" ? pages.flat() : []),
      }),
    };
    const client = {
      filter: () => "",
      call: async <T>(fn: (pb: unknown) => Promise<T>) => fn(pb),
    } as unknown as PocketBaseClient;
    expect(await pocketBaseCounterSource(client).load("tnt", "2026-11")).toEqual({
      tenant: 35,
      users: { usr_a: 15, usr_b: 20 },
      keys: { key_1: 30, key_2: 5 },
      queries: 3,
    });
  });
});
