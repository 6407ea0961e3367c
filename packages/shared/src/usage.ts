import { z } from "zod";
import { prefixedId } from "./ids.ts";
import { Micros } from "./money.ts";
import { PeriodId } from "./period.ts";

const TokenCount = z.number().int().nonnegative();

/**
 * `input` counts every prompt token; `cached_input` (cache reads) and `cache_write` (tokens written to the
 * provider's prompt cache) are the parts of it priced at their own prices, and `cache_write_1h` is the part of
 * `cache_write` written to a 1-hour cache (the rest is the 5-minute cache). `reasoning` is part of `output`.
 */
export const TokenUsage = z.object({
  input: TokenCount,
  cached_input: TokenCount.default(0),
  cache_write: TokenCount.default(0),
  cache_write_1h: TokenCount.default(0),
  output: TokenCount,
  reasoning: TokenCount.default(0),
});
export type TokenUsage = z.infer<typeof TokenUsage>;
/** Token usage as a producer may write it (the cache counters default to 0). */
export type TokenUsageInput = z.input<typeof TokenUsage>;

export const UsageStatus = z.enum(["success", "error", "cancelled"]);

/**
 * One routed (or externally logged) request, produced once and consumed by the billing worker.
 * `event_id` is the idempotency key: a redelivered event changes nothing.
 */
export const UsageEvent = z.object({
  event_id: prefixedId("event"),
  request_id: z.string().min(1),
  tenant_id: z.string().min(1),
  key_id: z.string().min(1).nullable(),
  user_id: z.string().min(1).nullable(),
  model: z.string().min(1),
  provider: z.string().min(1).nullable(),
  deployment: z.string().min(1).nullable(),
  reservation_id: z.string().min(1).nullable(),
  period: PeriodId,
  tokens: TokenUsage,
  cost_micros: Micros.nonnegative(),
  billed_micros: Micros.nonnegative(),
  estimated: z.boolean().default(false),
  status: UsageStatus,
  error_code: z.string().nullable().default(null),
  latency_ms: z.number().int().nonnegative(),
  stream: z.boolean().default(false),
  source: z.enum(["router", "api"]).default("router"),
  occurred_at: z.iso.datetime(),
  metadata: z.record(z.string(), z.string()).optional(),
  /**
   * Present on a router call published before its router could settle it (Redis unreachable at shutdown, or
   * the settlement backlog full): the billing worker then settles it, charging it, with the admission hold
   * the call had (null when it was admitted without one). Absent: the router settled the call itself.
   */
  settlement: z.object({ hold: z.string().min(1).nullable() }).optional(),
});
export type UsageEvent = z.infer<typeof UsageEvent>;
/** A usage event as a producer may write it (defaults not yet applied). */
export type UsageEventInput = z.input<typeof UsageEvent>;
