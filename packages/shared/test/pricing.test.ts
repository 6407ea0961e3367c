import { describe, expect, it } from "vitest";
import { priceUsage } from "../src/pricing.ts";

// Claude Sonnet: 3.00 input, 0.30 cache read, 15.00 output per million.
const sonnet = {
  input_per_million: 3_000_000,
  cached_input_per_million: 300_000,
  output_per_million: 15_000_000,
};

describe("priceUsage with prompt-cache writes", () => {
  it("prices 5-minute cache writes at 1.25× the input price when the catalog names no cache-write price", () => {
    // 1,000 prompt tokens: 400 uncached, 200 read from cache, 400 written; 100 output.
    // 400×3 + 200×0.3 + 400×3.75 + 100×15 = 1,200 + 60 + 1,500 + 1,500 micros.
    const usage = { input: 1_000, cached_input: 200, cache_write: 400, output: 100 };
    expect(priceUsage(usage, sonnet, 0)).toEqual({ cost: 4_260, billed: 4_260 });
    expect(priceUsage(usage, sonnet, 20)).toEqual({ cost: 4_260, billed: 5_112 });
  });

  it("prices 5-minute cache writes at the catalog's cache-write price when it has one", () => {
    const usage = { input: 1_000, cached_input: 200, cache_write: 400, output: 100 };
    // 400 writes × 4.00 = 1,600 instead of 1,500.
    expect(priceUsage(usage, { ...sonnet, cache_write_per_million: 4_000_000 }, 0).cost).toBe(4_360);
  });

  it("prices 1-hour cache writes at 2× the input price, whatever the catalog's 5-minute price", () => {
    // 400 writes of which 100 for 1 hour: 300×3.75 + 100×6 = 1,125 + 600.
    const usage = { input: 1_000, cached_input: 200, cache_write: 400, cache_write_1h: 100, output: 100 };
    expect(priceUsage(usage, sonnet, 0).cost).toBe(1_200 + 60 + 1_725 + 1_500);
    // 300×4 + 100×6 with a catalog 5-minute price of 4.00.
    expect(priceUsage(usage, { ...sonnet, cache_write_per_million: 4_000_000 }, 0).cost).toBe(
      1_200 + 60 + 1_800 + 1_500,
    );
  });

  it("rounds the premium up once, in integers: 1.25 × a price is not rounded before the tokens multiply it", () => {
    const cheap = { input_per_million: 1, cached_input_per_million: 0, output_per_million: 0 };
    // 4,000,000 writes at 1.25 µ/M = exactly 5 µ (a price rounded up to 2 µ/M first would bill 8).
    expect(priceUsage({ input: 4_000_000, cache_write: 4_000_000, output: 0 }, cheap, 0).cost).toBe(5);
    // 1 write at 0.15 × 1.25 per million is 0.1875 µ: rounded up to 1.
    const mini = {
      input_per_million: 150_000,
      cached_input_per_million: 75_000,
      output_per_million: 600_000,
    };
    expect(priceUsage({ input: 1, cache_write: 1, output: 0 }, mini, 0).cost).toBe(1);
    // 3 writes at 3.75 per million = 11.25 µ → 12; the uncached rest costs nothing.
    expect(priceUsage({ input: 3, cache_write: 3, output: 0 }, sonnet, 0).cost).toBe(12);
    // 1-hour: 3 writes at 6.00 per million = 18 µ exactly.
    expect(priceUsage({ input: 3, cache_write: 3, cache_write_1h: 3, output: 0 }, sonnet, 0).cost).toBe(18);
    for (const tokens of [1, 7, 333, 1_000_001]) {
      const { cost } = priceUsage({ input: tokens, cache_write: tokens, output: 0 }, sonnet, 7);
      expect(Number.isInteger(cost)).toBe(true);
      expect(cost).toBe(Math.ceil((tokens * 3_750_000) / 1_000_000));
    }
  });

  it("never counts a token twice: cache writes beyond the uncached input are capped, 1-hour beyond the writes too", () => {
    // 10 input of which 6 cached: at most 4 were written, and at most those 4 for 1 hour.
    const usage = { input: 10, cached_input: 6, cache_write: 50, cache_write_1h: 90, output: 0 };
    expect(priceUsage(usage, sonnet, 0).cost).toBe(Math.ceil(6 * 0.3) + 4 * 6);
  });

  it("prices usage without cache counters as before", () => {
    expect(priceUsage({ input: 1_000, cached_input: 400, output: 500, reasoning: 100 }, sonnet, 0).cost).toBe(
      600 * 3 + 400 * 0.3 + 500 * 15,
    );
  });
});
