import { isRecord, makeUsage } from "../common.ts";
import type { NormalizedUsage } from "../types.ts";

/** Anthropic's four counters as reported so far. `input` excludes both cache counters. */
export interface AnthropicTokenCounts {
  input: number;
  cacheRead: number;
  cacheWrite: number;
  output: number;
}

export function emptyCounts(): AnthropicTokenCounts {
  return { input: 0, cacheRead: 0, cacheWrite: 0, output: 0 };
}

const FIELDS = [
  ["input_tokens", "input"],
  ["cache_read_input_tokens", "cacheRead"],
  ["cache_creation_input_tokens", "cacheWrite"],
  ["output_tokens", "output"],
] as const;

/**
 * Overwrites the counters present in an Anthropic `usage` object (they are cumulative, and a stream's
 * `message_delta` may repeat or omit the input counters, or send them as null). True when it held any.
 */
export function readUsage(raw: unknown, into: AnthropicTokenCounts): boolean {
  if (!isRecord(raw)) return false;
  let found = false;
  for (const [wire, key] of FIELDS) {
    const value = raw[wire];
    if (typeof value === "number" && Number.isFinite(value)) {
      into[key] = value;
      found = true;
    }
  }
  return found;
}

/**
 * OpenAI's `prompt_tokens` counts every prompt token, so input = uncached + cache reads + cache writes,
 * with cache reads as `cached_input` (priced at the catalog's cached price).
 *
 * Cache WRITES are billed by Anthropic at a premium (1.25× input for the 5-minute cache, 2× for 1 hour),
 * but our catalog has no cache-write price: they are counted as ordinary input tokens, which under-prices
 * them. A cache-write price in the catalog would need its own counter here.
 */
export function normalizeCounts(counts: AnthropicTokenCounts, estimated = false): NormalizedUsage {
  const input = counts.input + counts.cacheRead + counts.cacheWrite;
  return makeUsage(input, counts.output, { cached: counts.cacheRead, estimated });
}
