import { describe, expect, it } from "vitest";
import { anchorDayOf, billingPeriodOf, periodBounds, previousPeriod } from "../src/index.ts";

const iso = (bounds: { period: string; start: Date; end: Date }) => ({
  period: bounds.period,
  start: bounds.start.toISOString(),
  end: bounds.end.toISOString(),
});

describe("billing periods", () => {
  it("are calendar months in UTC without an anchor (or with anchor day 1)", () => {
    const expected = {
      period: "2026-11",
      start: "2026-11-01T00:00:00.000Z",
      end: "2026-12-01T00:00:00.000Z",
    };
    expect(iso(billingPeriodOf(new Date("2026-11-30T23:59:59.999Z")))).toEqual(expected);
    expect(iso(billingPeriodOf(new Date("2026-11-01T00:00:00.000Z"), 1))).toEqual(expected);
  });

  it("run from the anchor day to the next month's, named after the month they start in", () => {
    expect(iso(billingPeriodOf(new Date("2026-11-20T08:00:00Z"), 15))).toEqual({
      period: "2026-11",
      start: "2026-11-15T00:00:00.000Z",
      end: "2026-12-15T00:00:00.000Z",
    });
    expect(iso(billingPeriodOf(new Date("2026-11-14T23:59:59Z"), 15))).toEqual({
      period: "2026-10",
      start: "2026-10-15T00:00:00.000Z",
      end: "2026-11-15T00:00:00.000Z",
    });
    expect(billingPeriodOf(new Date("2027-01-03T00:00:00Z"), 15).period).toBe("2026-12");
  });

  it("fall on a short month's last day when the anchor is past it", () => {
    expect(iso(periodBounds("2027-01", 31))).toEqual({
      period: "2027-01",
      start: "2027-01-31T00:00:00.000Z",
      end: "2027-02-28T00:00:00.000Z",
    });
    expect(periodBounds("2028-02", 30).end.toISOString()).toBe("2028-03-30T00:00:00.000Z");
    expect(billingPeriodOf(new Date("2027-02-28T00:00:00Z"), 31).period).toBe("2027-02");
  });

  it("take the anchor from a subscription's period start and step back a period by name", () => {
    expect(anchorDayOf(new Date("2026-03-17T12:00:00Z"))).toBe(17);
    expect(anchorDayOf(null)).toBeNull();
    expect(previousPeriod("2026-01")).toBe("2025-12");
    expect(previousPeriod("2026-11")).toBe("2026-10");
  });
});
