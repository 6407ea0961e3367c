import PocketBase from "pocketbase";
import { describe, expect, it } from "vitest";
import { pbDateToMs, toPbDate } from "../src/dates.ts";
import { compositeKey, keyFilters } from "../src/existing-keys.ts";
import { backoffDelay } from "../src/retry.ts";

const sdk = new PocketBase("http://unused");
const binder = { filter: (raw: string, params?: Record<string, unknown>) => sdk.filter(raw, params) };

describe("idempotency key lookups", () => {
  it("builds bound filters that stay under PocketBase's 3,500-character limit", () => {
    const records = Array.from({ length: 500 }, (_, n) => ({
      tenant: "tnt_abc",
      event_id: `evt_${"x".repeat(20)}${n}`,
    }));
    const filters = keyFilters(binder, ["tenant", "event_id"], records);
    expect(filters.length).toBeGreaterThan(1);
    for (const filter of filters) expect(filter.length).toBeLessThanOrEqual(3_000);
    expect(filters.join(" || ").match(/\(tenant = /g)).toHaveLength(500);
    expect(filters[0]).toMatch(/^\(tenant = "tnt_abc" && event_id = "evt_x+0"\) \|\| /);
  });

  it("binds hostile values as string literals", () => {
    const [filter] = keyFilters(binder, ["event_id"], [{ event_id: '" || id != "' }]);
    expect(filter).toBe(`event_id = "\\" || id != \\""`);
  });

  it("derives one comparable key from several fields, null when one is missing", () => {
    expect(compositeKey(["tenant", "event_id"], { tenant: "t", event_id: "e", other: 1 })).toBe('["t","e"]');
    expect(compositeKey(["tenant", "event_id"], { tenant: "t" })).toBeNull();
  });
});

describe("backoff", () => {
  it("grows exponentially with jitter and stays under the cap", () => {
    const policy = { attempts: 5, baseDelayMs: 100, maxDelayMs: 1_000 };
    expect(backoffDelay(policy, 1, () => 0)).toBe(50);
    expect(backoffDelay(policy, 1, () => 1)).toBe(100);
    expect(backoffDelay(policy, 3, () => 1)).toBe(400);
    expect(backoffDelay(policy, 10, () => 1)).toBe(1_000);
  });
});

describe("PocketBase dates", () => {
  it("reads PocketBase's format and empty fields, writes ISO 8601", () => {
    expect(pbDateToMs("2026-11-23 10:00:00.000Z")).toBe(Date.UTC(2026, 10, 23, 10));
    expect(pbDateToMs("")).toBeNull();
    expect(toPbDate(Date.UTC(2026, 10, 23, 10))).toBe("2026-11-23T10:00:00.000Z");
    expect(() => pbDateToMs("yesterday")).toThrow(RangeError);
  });
});
