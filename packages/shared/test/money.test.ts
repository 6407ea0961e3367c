import { describe, expect, it } from "vitest";
import { applyMarkup, formatMicros, Micros, parseMicros, tokenCost } from "../src/money.ts";

describe("money in micro-units", () => {
  it("parses decimal strings exactly, without floats", () => {
    expect(parseMicros("9.99")).toBe(9_990_000);
    expect(parseMicros("0.1")).toBe(100_000);
    expect(parseMicros("29.99")).toBe(29_990_000);
    expect(parseMicros("0.000001")).toBe(1);
    expect(parseMicros("-2.5")).toBe(-2_500_000);
    expect(parseMicros("100")).toBe(100_000_000);
  });

  it("refuses amounts with more than six decimals or junk", () => {
    expect(() => parseMicros("0.0000001")).toThrow(/at most 6 decimals/);
    expect(() => parseMicros("1,5")).toThrow(RangeError);
    expect(() => parseMicros("")).toThrow(RangeError);
    expect(() => parseMicros("99999999999999999")).toThrow(/out of range/);
  });

  it("formats back to a readable decimal", () => {
    expect(formatMicros(9_990_000)).toBe("9.99");
    expect(formatMicros(125)).toBe("0.000125");
    expect(formatMicros(100_000_000)).toBe("100.00");
    expect(formatMicros(-2_500_000)).toBe("-2.50");
  });

  it("prices tokens per million and rounds up to a whole micro-unit", () => {
    // 1,000 tokens at 2.50 EUR per million = 0.0025 EUR = 2,500 micros.
    expect(tokenCost(1_000, 2_500_000)).toBe(2_500);
    // 1 token at 0.15 EUR per million = 0.15 micros → rounds up to 1.
    expect(tokenCost(1, 150_000)).toBe(1);
    expect(tokenCost(0, 150_000)).toBe(0);
    // Large counts stay exact (BigInt inside).
    expect(tokenCost(9_000_000_000, 75_000_000)).toBe(675_000_000_000);
  });

  it("applies markup in whole percent, rounding up", () => {
    expect(applyMarkup(1_000_000, 20)).toBe(1_200_000);
    expect(applyMarkup(1, 20)).toBe(2);
    expect(applyMarkup(333, 15)).toBe(383);
    expect(applyMarkup(0, 20)).toBe(0);
    expect(applyMarkup(123_456, 0)).toBe(123_456);
  });

  it("rejects fractional amounts and token counts", () => {
    expect(Micros.safeParse(1.5).success).toBe(false);
    expect(() => tokenCost(1.5, 1)).toThrow(RangeError);
    expect(() => tokenCost(1, 0.5)).toThrow(RangeError);
    expect(() => applyMarkup(1, 0.5)).toThrow(RangeError);
  });
});
