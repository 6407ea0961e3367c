import type { ModelPrices } from "./models.ts";
import { applyMarkup, type Micros, tokenCost } from "./money.ts";
import type { TokenUsage } from "./usage.ts";

/**
 * Provider cost of a request: uncached input, cached input and output (reasoning tokens are part of
 * output and priced as output) at the catalog's per-million prices; billed adds the plan's markup.
 */
export function priceUsage(
  usage: TokenUsage,
  prices: ModelPrices,
  markupPct: number,
): { cost: Micros; billed: Micros } {
  const cached = Math.min(usage.cached_input, usage.input);
  const cost =
    tokenCost(usage.input - cached, prices.input_per_million) +
    tokenCost(cached, prices.cached_input_per_million) +
    tokenCost(usage.output, prices.output_per_million);
  return { cost, billed: applyMarkup(cost, markupPct) };
}
