import { type KeyRecord, priceUsage } from "@cloudfreedom/shared";
import { describe, expect, it } from "vitest";
import { limitsOf, maxCost, outputAllowance } from "../src/cost.ts";

const prices = { input_per_million: 150_000, cached_input_per_million: 75_000, output_per_million: 600_000 };

describe("outputAllowance", () => {
  it("takes what the request asked for, capped by the model", () => {
    expect(outputAllowance(100, 4_096)).toBe(100);
    expect(outputAllowance(10_000, 4_096)).toBe(4_096);
  });

  it("reserves the model's whole output cap when the request sets no limit", () => {
    expect(outputAllowance(undefined, 16_384)).toBe(16_384);
    expect(outputAllowance(null, 16_384)).toBe(16_384);
    expect(outputAllowance(0, 16_384)).toBe(16_384);
  });

  it("multiplies by the number of choices", () => {
    expect(outputAllowance(50, 4_096, 3)).toBe(150);
    expect(outputAllowance(50, 4_096, 0)).toBe(50);
  });
});

describe("maxCost", () => {
  it("prices the prompt estimate and the output allowance exactly as settlement prices usage", () => {
    const cost = maxCost({ promptTokens: 1_234, outputTokens: 500, prices, markupPct: 20 });
    const settled = priceUsage({ input: 1_234, cached_input: 0, output: 500, reasoning: 0 }, prices, 20);
    expect(cost).toEqual({ micros: settled.billed, tokens: 1_734 });
  });

  it("never reserves less than a call that uses fewer tokens settles", () => {
    const reserved = maxCost({ promptTokens: 1_000, outputTokens: 1_000, prices, markupPct: 20 }).micros;
    for (const [input, cached, output] of [
      [1_000, 0, 1_000],
      [999, 0, 1_000],
      [1_000, 500, 1_000],
      [1, 0, 1],
    ] as const) {
      expect(
        priceUsage({ input, cached_input: cached, output, reasoning: 0 }, prices, 20).billed,
      ).toBeLessThanOrEqual(reserved);
    }
  });

  it("rounds fractional estimates up and negative ones to zero", () => {
    expect(maxCost({ promptTokens: 10.2, outputTokens: -3, prices, markupPct: 0 }).tokens).toBe(11);
  });

  it("holds a request with cache breakpoints at the highest rate its prompt can be billed", () => {
    const usage = { promptTokens: 1_000, outputTokens: 100, prices, markupPct: 20 };
    const settled = (write: number, write1h: number) =>
      priceUsage(
        {
          input: 1_000,
          cached_input: 0,
          cache_write: write,
          cache_write_1h: write1h,
          output: 100,
          reasoning: 0,
        },
        prices,
        20,
      ).billed;
    // Without breakpoints the hold is unchanged.
    expect(maxCost({ ...usage, cacheWrite: null }).micros).toBe(settled(0, 0));
    // 5-minute breakpoints: the whole prompt as 5-minute writes (1.25 × input without a catalog price).
    expect(maxCost({ ...usage, cacheWrite: "5m" }).micros).toBe(settled(1_000, 0));
    expect(maxCost({ ...usage, cacheWrite: "5m" }).micros).toBeGreaterThan(settled(0, 0));
    // A 1-hour breakpoint: the whole prompt as 1-hour writes (2 × input), above any mix a call can settle.
    const held1h = maxCost({ ...usage, cacheWrite: "1h" }).micros;
    expect(held1h).toBe(settled(1_000, 1_000));
    for (const [write, write1h] of [
      [1_000, 0],
      [1_000, 400],
      [600, 600],
    ] as const) {
      expect(settled(write, write1h)).toBeLessThanOrEqual(held1h);
    }
    // A catalog 5-minute price above 2 × input is what a 1-hour request may be charged at most.
    const dear = { ...prices, cache_write_per_million: 400_000 };
    expect(maxCost({ ...usage, prices: dear, cacheWrite: "1h" }).micros).toBe(
      priceUsage({ input: 1_000, cached_input: 0, cache_write: 1_000, output: 100, reasoning: 0 }, dear, 20)
        .billed,
    );
    expect(maxCost({ ...usage, cacheWrite: "1h" }).tokens).toBe(1_100);
  });

  it("is zero for a free model", () => {
    const free = { input_per_million: 0, cached_input_per_million: 0, output_per_million: 0 };
    expect(maxCost({ promptTokens: 100, outputTokens: 100, prices: free, markupPct: 20 }).micros).toBe(0);
  });
});

describe("limitsOf", () => {
  const key: KeyRecord = {
    key_id: "key_1",
    tenant_id: "tnt_1",
    tenant_slug: "acme",
    user_id: "usr_1",
    tier: "pro",
    scopes: ["chat"],
    models: null,
    rpm: 60,
    tpm: null,
    budget_micros: 5_000_000,
    user_budget_micros: 7_000_000,
    tenant_limits: { rpm: 600, tpm: 100_000, query_limit: 1_000, budget_micros: 100_000_000, markup_pct: 20 },
    expires_at: null,
    revoked: false,
  };

  it("maps the key's and the tenant plan's limits", () => {
    expect(limitsOf(key)).toEqual({
      tenantBudget: 100_000_000,
      userBudget: 7_000_000,
      keyBudget: 5_000_000,
      queryLimit: 1_000,
      tenantRpm: 600,
      tenantTpm: 100_000,
      keyRpm: 60,
      keyTpm: null,
    });
  });

  it("has no user budget for a key without a user", () => {
    expect(limitsOf({ ...key, user_id: null }).userBudget).toBeNull();
    expect(limitsOf({ ...key, user_budget_micros: undefined }).userBudget).toBeNull();
  });
});
