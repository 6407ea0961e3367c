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

describe("tokenCost and applyMarkup agree with exact BigInt arithmetic", () => {
  const exact = (a: number, b: number, d: number) =>
    Number((BigInt(a) * BigInt(b) + BigInt(d) - 1n) / BigInt(d));
  it("at the edges of the double fast path and on random values", () => {
    const cases: Array<[number, number]> = [
      [0, 0],
      [1, 1],
      [999_999, 1],
      [1_000_001, 1],
      [Number.MAX_SAFE_INTEGER, 1],
      [94_906_265, 94_906_265], // the product is just above 2^53
      [9_007_199, 1_000_000_000],
      [4_503_599_627_370_496, 2],
      [123_456_789, 72_960_000],
    ];
    let seed = 42;
    const random = (max: number) => {
      seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648;
      return Math.floor((seed / 2_147_483_648) * max);
    };
    for (let i = 0; i < 20_000; i++) {
      const scale = 10 ** random(10);
      cases.push([random(scale), random(10 ** random(10))]);
    }
    // Products a whole number of millions, and one micro-unit either side.
    for (let k = 1; k < 2_000; k++)
      cases.push([k * 4_503_599, 1_000_000], [k * 1_000_000 + 1, 7], [k * 999_999, 3]);
    for (const [a, b] of cases) {
      expect(tokenCost(a, b)).toBe(exact(a, b, 1_000_000));
      if (a * b <= Number.MAX_SAFE_INTEGER / 2) expect(applyMarkup(a * b, 20)).toBe(exact(a * b, 120, 100));
    }
  });
});
