import type { ModelPrices } from "./models.ts";
import { applyMarkup, type Micros, scaledTokenCost, tokenCost } from "./money.ts";
import type { TokenUsageInput } from "./usage.ts";

/** A 5-minute cache write without a catalog price costs 5/4 of the input price (Anthropic's premium). */
const CACHE_WRITE_5M = { numerator: 5, denominator: 4 } as const;
/** A 1-hour cache write costs twice the input price. */
const CACHE_WRITE_1H = { numerator: 2, denominator: 1 } as const;

/**
 * Provider cost of a request: uncached input, cache reads, cache writes and output (reasoning tokens are part
 * of output and priced as output) at the catalog's per-million prices; billed adds the plan's markup. Each
 * part is rounded up to a whole micro-unit; a premium over the input price is applied before rounding, in
 * integers.
 */
export function priceUsage(
  usage: TokenUsageInput,
  prices: ModelPrices,
  markupPct: number,
): { cost: Micros; billed: Micros } {
  const cached = Math.min(usage.cached_input ?? 0, usage.input);
  const written = Math.min(usage.cache_write ?? 0, usage.input - cached);
  const written1h = Math.min(usage.cache_write_1h ?? 0, written);
  const written5m = written - written1h;
  const cost =
    tokenCost(usage.input - cached - written, prices.input_per_million) +
    tokenCost(cached, prices.cached_input_per_million) +
    (prices.cache_write_per_million === undefined
      ? scaledTokenCost(written5m, prices.input_per_million, CACHE_WRITE_5M)
      : tokenCost(written5m, prices.cache_write_per_million)) +
    scaledTokenCost(written1h, prices.input_per_million, CACHE_WRITE_1H) +
    tokenCost(usage.output, prices.output_per_million);
  return { cost, billed: applyMarkup(cost, markupPct) };
}
