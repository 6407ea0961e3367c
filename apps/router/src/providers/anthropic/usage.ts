import { isRecord, makeUsage } from "../common.ts";
import type { NormalizedUsage } from "../types.ts";

/**
 * Anthropic's counters as reported so far. `input` excludes both cache counters; `cacheWrite1h` is the part
 * of `cacheWrite` written to the 1-hour cache (`usage.cache_creation.ephemeral_1h_input_tokens`).
 */
export interface AnthropicTokenCounts {
  input: number;
  cacheRead: number;
  cacheWrite: number;
  cacheWrite1h: number;
  output: number;
}

export function emptyCounts(): AnthropicTokenCounts {
  return { input: 0, cacheRead: 0, cacheWrite: 0, cacheWrite1h: 0, output: 0 };
}

const isCount = (value: unknown): value is number => typeof value === "number" && Number.isFinite(value);

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
    if (isCount(value)) {
      into[key] = value;
      found = true;
    }
  }
  const split = raw.cache_creation;
  if (isRecord(split)) {
    const fiveMinutes = split.ephemeral_5m_input_tokens;
    const oneHour = split.ephemeral_1h_input_tokens;
    if (isCount(oneHour)) into.cacheWrite1h = oneHour;
    // The split alone (no total) still says how many tokens were written.
    if (!isCount(raw.cache_creation_input_tokens) && (isCount(fiveMinutes) || isCount(oneHour))) {
      into.cacheWrite = (isCount(fiveMinutes) ? fiveMinutes : 0) + (isCount(oneHour) ? oneHour : 0);
    }
    found ||= isCount(fiveMinutes) || isCount(oneHour);
  }
  return found;
}

/**
 * OpenAI's `prompt_tokens` counts every prompt token, so input = uncached + cache reads + cache writes,
 * with cache reads as `cached_input` and cache writes as `cache_write` (of which `cache_write_1h` went to
 * the 1-hour cache; without Anthropic's split, all are 5-minute writes), each priced at its own price.
 */
export function normalizeCounts(counts: AnthropicTokenCounts, estimated = false): NormalizedUsage {
  const input = counts.input + counts.cacheRead + counts.cacheWrite;
  return makeUsage(input, counts.output, {
    cached: counts.cacheRead,
    cacheWrite: counts.cacheWrite,
    cacheWrite1h: Math.min(counts.cacheWrite1h, counts.cacheWrite),
    estimated,
  });
}
