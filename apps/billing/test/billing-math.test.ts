import { describe, expect, it } from "vitest";
import { meterIdentifier, overageUnits } from "../src/services/stripe/sync-meter.ts";
import { reservationEventId, usageEventId } from "../src/services/usage/log-usage.ts";
import { csvField } from "../src/services/usage/usage-csv.ts";

describe("overage units", () => {
  it("count whole units of spend above the included budget and keep the remainder for later", () => {
    expect(overageUnits(3_555_000, 1_000_000, 10_000)).toBe(255);
    expect(overageUnits(1_009_999, 1_000_000, 10_000)).toBe(0);
    expect(overageUnits(500_000, 1_000_000, 10_000)).toBe(0);
  });

  it("are sent under an identifier per tenant, period and batch", () => {
    expect(meterIdentifier("tnt_a", "2026-11", 3)).toBe("cf-tnt_a-2026-11-3");
  });
});

describe("usage event ids from idempotency keys", () => {
  it("are stable per tenant and key and differ across tenants", () => {
    const id = usageEventId("tnt_a", "call-1");
    expect(id).toMatch(/^evt_[0-9a-f]{40}$/);
    expect(usageEventId("tnt_a", "call-1")).toBe(id);
    expect(usageEventId("tnt_b", "call-1")).not.toBe(id);
  });

  it("are one per reservation when the report names one, whatever its key", () => {
    const id = reservationEventId("tnt_a", "rsv_1");
    expect(id).toMatch(/^evt_[0-9a-f]{40}$/);
    expect(reservationEventId("tnt_a", "rsv_1")).toBe(id);
    expect(reservationEventId("tnt_b", "rsv_1")).not.toBe(id);
    expect(reservationEventId("tnt_a", "rsv_2")).not.toBe(id);
    expect(usageEventId("tnt_a", "rsv_1")).not.toBe(id);
  });
});

describe("CSV fields", () => {
  it("quote separators and defuse spreadsheet formulas", () => {
    expect(csvField("gpt-4o")).toBe("gpt-4o");
    expect(csvField('a,"b"')).toBe('"a,""b"""');
    expect(csvField("=HYPERLINK(1)")).toBe("'=HYPERLINK(1)");
    expect(csvField(-5)).toBe("-5");
  });
});
