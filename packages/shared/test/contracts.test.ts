import { describe, expect, it } from "vitest";
import {
  acceptRequestId,
  buildErrorEnvelope,
  ERROR_STATUS,
  ErrorEnvelope,
  KeyRecord,
  keyRejection,
  MAX_USAGE_BATCH,
  newId,
  periodEnd,
  periodOf,
  prefixedId,
  QUEUE_NAMES,
  QUEUES,
  randomHex,
  UsageEvent,
} from "../src/index.ts";

const usageEvent = {
  event_id: newId("event"),
  request_id: "req_abc12345",
  tenant_id: "tnt_1",
  key_id: "key_1",
  user_id: null,
  model: "gpt-4o-mini",
  provider: "openai",
  deployment: "openai-gpt-4o-mini",
  reservation_id: "rsv_1",
  period: "2026-11",
  tokens: { input: 10, output: 5 },
  cost_micros: 12,
  billed_micros: 15,
  status: "success",
  latency_ms: 42,
  occurred_at: "2026-11-23T10:00:00.000Z",
};

describe("error envelope", () => {
  it("maps every code to one 4xx/5xx status", () => {
    for (const status of Object.values(ERROR_STATUS)) {
      expect(status).toBeGreaterThanOrEqual(400);
      expect(status).toBeLessThan(600);
    }
    expect(ERROR_STATUS.budget_exceeded).toBe(402);
    expect(ERROR_STATUS.model_access_restricted).toBe(403);
    expect(ERROR_STATUS.admission_unavailable).toBe(503);
  });

  it("builds the DESIGN §8 body, with the OpenAI error object on request", () => {
    const now = new Date("2026-11-23T00:00:00.000Z");
    const plain = buildErrorEnvelope({ code: "not_found", message: "no route", requestId: "req_x", now });
    expect(plain).toEqual({
      status: "error",
      code: "not_found",
      message: "no route",
      details: {},
      timestamp: "2026-11-23T00:00:00.000Z",
      request_id: "req_x",
    });
    const openAI = buildErrorEnvelope({
      code: "validation_failed",
      message: "model: required",
      details: { field: "model" },
      requestId: "req_y",
      openAI: true,
      now,
    });
    expect(openAI.error).toEqual({
      message: "model: required",
      type: "invalid_request_error",
      code: "validation_failed",
      param: "model",
    });
    expect(ErrorEnvelope.parse(openAI)).toEqual(openAI);
  });
});

describe("ids", () => {
  it("mints prefixed ids that their schema accepts and others refuse", () => {
    const id = newId("tenant");
    expect(id).toMatch(/^tnt_[0-9a-z]{20}$/);
    expect(prefixedId("tenant").safeParse(id).success).toBe(true);
    expect(prefixedId("key").safeParse(id).success).toBe(false);
    expect(new Set(Array.from({ length: 1000 }, () => newId("request"))).size).toBe(1000);
  });

  it("starts ids with their creation time, so later ids sort after earlier ones", async () => {
    const before = Date.now();
    const first = newId("event");
    await new Promise((resolve) => setTimeout(resolve, 5));
    const later = Array.from({ length: 100 }, () => newId("event"));
    expect(later.every((id) => id > first)).toBe(true);
    expect(Number.parseInt(first.slice(4, 13), 36)).toBeGreaterThanOrEqual(before);
    expect(Number.parseInt(first.slice(4, 13), 36)).toBeLessThanOrEqual(Date.now());
    // Short ids stay random throughout.
    expect(newId("job", 12)).toMatch(/^job_[0-9a-z]{12}$/);
  });

  it("draws random hex of the asked length, every digit in use (trace and span ids)", () => {
    const ids = Array.from({ length: 5000 }, () => randomHex(8));
    expect(ids.every((id) => /^[0-9a-f]{16}$/.test(id))).toBe(true);
    expect(new Set(ids).size).toBe(5000);
    expect(randomHex(16)).toMatch(/^[0-9a-f]{32}$/);
    // 80,000 digits: each of the 16 appears close to 5,000 times (a digit never drawn would be a bias bug).
    const counts = new Map<string, number>();
    for (const digit of ids.join("")) counts.set(digit, (counts.get(digit) ?? 0) + 1);
    expect(counts.size).toBe(16);
    for (const n of counts.values()) expect(n).toBeGreaterThan(4_000);
  });

  it("accepts a sane caller request id and replaces a hostile one", () => {
    expect(acceptRequestId("abc-123")).toBe("abc-123");
    expect(acceptRequestId("bad id\nwith newline")).toMatch(/^req_/);
    expect(acceptRequestId("x".repeat(200))).toMatch(/^req_/);
    expect(acceptRequestId(undefined)).toMatch(/^req_/);
  });
});

describe("periods", () => {
  it("names calendar months in UTC and knows where they end", () => {
    expect(periodOf(new Date("2026-11-30T23:59:59.999Z"))).toBe("2026-11");
    expect(periodOf(new Date("2026-12-01T00:00:00.000Z"))).toBe("2026-12");
    expect(periodEnd("2026-12").toISOString()).toBe("2027-01-01T00:00:00.000Z");
  });
});

describe("queue contracts", () => {
  it("lists exactly the DESIGN §9 queues", () => {
    expect(QUEUE_NAMES.sort()).toEqual(["analytics", "billing-maintenance", "traces", "usage"]);
  });

  it("parses a usage event, filling defaults, and names the bad field otherwise", () => {
    const parsed = UsageEvent.parse(usageEvent);
    expect(parsed.tokens).toEqual({
      input: 10,
      cached_input: 0,
      cache_write: 0,
      cache_write_1h: 0,
      output: 5,
      reasoning: 0,
    });
    expect(parsed.source).toBe("router");
    const bad = UsageEvent.safeParse({ ...usageEvent, cost_micros: 1.5 });
    expect(bad.success).toBe(false);
    expect(bad.error?.issues[0]?.path).toEqual(["cost_micros"]);
  });

  it("carries usage as batches of 1 to MAX_USAGE_BATCH events, naming the bad event's field", () => {
    const batch = { batch_id: newId("job"), events: [usageEvent, usageEvent] };
    expect(QUEUES.usage.payload.parse(batch).events).toHaveLength(2);
    const bad = QUEUES.usage.payload.safeParse({
      ...batch,
      events: [usageEvent, { ...usageEvent, cost_micros: 1.5 }],
    });
    expect(bad.error?.issues[0]?.path).toEqual(["events", 1, "cost_micros"]);
    expect(QUEUES.usage.payload.safeParse({ ...batch, events: [] }).success).toBe(false);
    const tooMany = Array.from({ length: MAX_USAGE_BATCH + 1 }, () => usageEvent);
    expect(QUEUES.usage.payload.safeParse({ ...batch, events: tooMany }).success).toBe(false);
    expect(QUEUES.usage.payload.safeParse({ events: [usageEvent] }).error?.issues[0]?.path).toEqual([
      "batch_id",
    ]);
  });

  it("still parses an in-flight event that lacks optional newer fields", () => {
    const { metadata: _m, ...old } = { ...usageEvent, metadata: {} };
    expect(UsageEvent.safeParse(old).success).toBe(true);
  });
});

describe("KeyRecord", () => {
  const record = KeyRecord.parse({
    key_id: "key_1",
    tenant_id: "tnt_1",
    tenant_slug: "acme",
    user_id: null,
    tier: "pro",
    scopes: ["chat"],
    models: null,
    rpm: 60,
    tpm: null,
    budget_micros: null,
    tenant_limits: { rpm: null, tpm: null, query_limit: 1000, budget_micros: 100_000_000, markup_pct: 20 },
    expires_at: 2_000,
    revoked: false,
  });

  it("is usable until revoked or expired", () => {
    expect(keyRejection(record, 1_999)).toBeNull();
    expect(keyRejection(record, 2_000)).toBe("expired");
    expect(keyRejection({ ...record, revoked: true }, 0)).toBe("revoked");
  });
});
