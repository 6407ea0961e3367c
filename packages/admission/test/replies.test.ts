import { AppError, statusOf } from "@cloudfreedom/shared";
import { describe, expect, it } from "vitest";
import { admissionUnavailable, denialError } from "../src/denials.ts";
import { admissionKeys, DUE_PATTERN, tenantOfDueKey } from "../src/keys.ts";
import { parseAdmitReply, parseSettleStatus } from "../src/replies.ts";
import { admitArgs } from "../src/reserve.ts";
import { ADMIT_FIELDS } from "../src/scripts/admit.ts";
import { settleFields } from "../src/settle.ts";

const ctx = {
  period: "2026-11" as const,
  requestedMicros: 1_500,
  requestedTokens: 300,
  scopeIds: { tenant: "tnt_a", user: "usr_b", key: "key_c" },
};

describe("admit replies", () => {
  it("parses an admission with its remaining limits; -1 means no such limit", () => {
    expect(
      parseAdmitReply(["ok", "60", "59", "-1", "-1", "1000", "rsv_1|2026-11|5|3|0||key_c|", "49"]),
    ).toEqual({
      kind: "ok",
      rate: { limitRequests: 60, remainingRequests: 59, limitTokens: null, remainingTokens: null },
      budgetRemaining: 1000,
      hold: "rsv_1|2026-11|5|3|0||key_c|",
      queriesRemaining: 49,
    });
    expect(parseAdmitReply(["ok", "-1", "-1", "-1", "-1", "-1", "", "-1"])).toMatchObject({
      budgetRemaining: null,
      hold: null,
      queriesRemaining: null,
    });
  });

  it("parses each denial", () => {
    expect(parseAdmitReply(["budget", "user", "100", "90", "5"])).toEqual({
      kind: "budget",
      scope: "user",
      limit: 100,
      spent: 90,
      reserved: 5,
    });
    expect(parseAdmitReply(["queries", "50", "50"])).toEqual({ kind: "queries", limit: 50, used: 50 });
    expect(parseAdmitReply(["rate", "tenant", "tokens", "1000", "1500"])).toEqual({
      kind: "rate",
      scope: "tenant",
      dimension: "tokens",
      limit: 1000,
      waitMs: 1500,
    });
    expect(parseAdmitReply(["unseeded"])).toEqual({ kind: "unseeded" });
  });

  it("refuses a reply it does not understand", () => {
    expect(() => parseAdmitReply(["budget", "planet", "1", "1", "1"])).toThrow(TypeError);
    expect(() => parseAdmitReply([])).toThrow(TypeError);
    expect(() => parseAdmitReply("OK")).toThrow(TypeError);
    expect(() => parseAdmitReply(["ok", "x", "1", "1", "1", "1"])).toThrow(TypeError);
  });

  it("parses settle replies", () => {
    expect(parseSettleStatus("settled")).toEqual({ kind: "settled" });
    expect(parseSettleStatus("duplicate")).toEqual({ kind: "duplicate" });
    expect(parseSettleStatus("unseeded:2026-10")).toEqual({ kind: "unseeded", period: "2026-10" });
    expect(parseSettleStatus("unseeded:")).toEqual({ kind: "unseeded", period: null });
    expect(() => parseSettleStatus("maybe")).toThrow(TypeError);
  });
});

describe("denials as errors", () => {
  it("402 budget_exceeded names the scope, limit, spent and period end, and tells SDKs not to retry", () => {
    const error = denialError(
      { kind: "budget", scope: "key", limit: 10_000, spent: 9_000, reserved: 500 },
      ctx,
    );
    expect(error).toBeInstanceOf(AppError);
    expect(statusOf(error.code)).toBe(402);
    expect(error.code).toBe("budget_exceeded");
    expect(error.details).toEqual({
      scope: "key",
      scope_id: "key_c",
      limit: 10_000,
      spent: 9_000,
      reserved: 500,
      requested: 1_500,
      period: "2026-11",
      period_end: "2026-12-01T00:00:00.000Z",
    });
    expect(error.message).toContain("0.009");
    expect(error.headers["x-should-retry"]).toBe("false");
  });

  it("uses the period end it is given (a subscription-anchored period)", () => {
    const periodEnd = new Date("2026-12-15T00:00:00.000Z");
    const error = denialError({ kind: "queries", limit: 50, used: 50 }, { ...ctx, periodEnd });
    expect(error.details.period_end).toBe("2026-12-15T00:00:00.000Z");
  });

  it("429 query_limit_exceeded says when the allowance renews", () => {
    const error = denialError({ kind: "queries", limit: 50, used: 50 }, ctx);
    expect([statusOf(error.code), error.code]).toEqual([429, "query_limit_exceeded"]);
    expect(error.details).toEqual({
      limit: 50,
      used: 50,
      period: "2026-11",
      period_end: "2026-12-01T00:00:00.000Z",
    });
    expect(error.message).toContain("2026-12-01");
  });

  it("429 rate_limited carries Retry-After in whole seconds, rounded up", () => {
    const error = denialError(
      { kind: "rate", scope: "key", dimension: "requests", limit: 10, waitMs: 2_001 },
      ctx,
    );
    expect([statusOf(error.code), error.code]).toEqual([429, "rate_limited"]);
    expect(error.headers).toMatchObject({
      "retry-after": "3",
      "retry-after-ms": "2001",
      "x-ratelimit-limit-requests": "10",
      "x-ratelimit-remaining-requests": "0",
    });
    expect(error.details).toEqual({ scope: "key", limit_type: "requests", limit: 10, retry_after_ms: 2_001 });
  });

  it("a request larger than the whole TPM limit is told to shorten the prompt or lower max_tokens, not to retry", () => {
    const error = denialError(
      { kind: "rate", scope: "tenant", dimension: "tokens", limit: 200, waitMs: -1 },
      ctx,
    );
    expect(error.details).toEqual({
      scope: "tenant",
      limit_type: "tokens",
      limit: 200,
      reason: "request_exceeds_limit",
      requested: 300,
    });
    // No wait helps, and the limit is not used up: no Retry-After, no "0 remaining".
    expect(error.headers).toEqual({ "x-ratelimit-limit-tokens": "200", "x-should-retry": "false" });
    expect(error.message).toContain("shorten the prompt or lower max_tokens");
  });

  it("503 admission_unavailable when the counters cannot be reached", () => {
    const error = admissionUnavailable(new Error("ECONNREFUSED"));
    expect([statusOf(error.code), error.code]).toEqual([503, "admission_unavailable"]);
  });
});

describe("script arguments and keys", () => {
  it("puts every key of a tenant in its hash tag, and each request's key limiter once", () => {
    const base = {
      tenantId: "tnt_a",
      period: "2026-11" as const,
      cost: { micros: 1_500, tokens: 300 },
      limits: {
        tenantBudget: 100,
        userBudget: 5,
        keyBudget: null,
        queryLimit: null,
        tenantRpm: 60,
        tenantTpm: null,
        keyRpm: null,
        keyTpm: 1000,
      },
      ttlMs: 60_000,
    };
    const args = admitArgs([
      { ...base, reservationId: "rsv_1", keyId: "key_c", userId: null },
      { ...base, reservationId: "rsv_2", keyId: "key_d", userId: "usr_u", dryRun: true },
      { ...base, reservationId: "rsv_3", keyId: "key_c", userId: null, room: 16 },
    ]);
    expect(args[0]).toBe(5);
    const keys = args.slice(1, 6).map(String);
    for (const key of keys) expect(key).toMatch(/^cf:\{t:tnt_a\}:/);
    expect(keys.slice(3)).toEqual(["cf:{t:tnt_a}:rate:key:key_c", "cf:{t:tnt_a}:rate:key:key_d"]);
    expect(args.slice(6, 9)).toEqual([60_000, "2026-11", 3]);
    const fields = args.slice(9);
    expect(fields).toHaveLength(3 * ADMIT_FIELDS);
    expect(fields.slice(0, ADMIT_FIELDS)).toEqual([
      "rsv_1",
      1_500,
      300,
      "",
      "key_c",
      4,
      100,
      -1,
      -1,
      -1,
      60,
      -1,
      -1,
      1000,
      "0",
      1,
    ]);
    // The user budget applies only with a user; the second key limiter is KEYS[5]; the third reuses KEYS[4].
    expect(fields.slice(ADMIT_FIELDS, 2 * ADMIT_FIELDS)).toEqual([
      "rsv_2",
      1_500,
      300,
      "usr_u",
      "key_d",
      5,
      100,
      5,
      -1,
      -1,
      60,
      -1,
      -1,
      1000,
      "1",
      1,
    ]);
    expect(fields[2 * ADMIT_FIELDS + 5]).toBe(4);
    expect(fields[3 * ADMIT_FIELDS - 1]).toBe(16);
    expect(() => admitArgs([])).toThrow(RangeError);
    expect(() =>
      admitArgs([
        { ...base, reservationId: "rsv_1", keyId: "key_c", userId: null },
        { ...base, tenantId: "tnt_b", reservationId: "rsv_2", keyId: "key_c", userId: null },
      ]),
    ).toThrow(/one tenant/);
    const settle = settleFields({
      reservationId: "rsv_1",
      tenantId: "tnt_a",
      keyId: null,
      userId: null,
      period: "2026-11",
      billedMicros: 12.4,
      tokens: 7,
      refundable: true,
    });
    expect(settle).toEqual(["rsv_1", "", 12, 7, "1", "", "", "2026-11", "charge"]);
  });

  it("finds the tenant in a due-set key", () => {
    expect(tenantOfDueKey(admissionKeys.due("tnt_x9"))).toBe("tnt_x9");
    expect(tenantOfDueKey("cf:{t:tnt_x9}:rsv")).toBeNull();
    expect(DUE_PATTERN).toBe("cf:{t:*}:rsv:due");
  });
});
