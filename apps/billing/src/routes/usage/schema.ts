import { ModelId, NonNegativeMicros, PeriodId, UsageStatus } from "@cloudfreedom/shared";
import { z } from "zod";

const Count = z.number().int().nonnegative();

/** How far ahead of our clock a reported time may be: the reporting gateway's clock may run a little fast. */
const MAX_CLOCK_SKEW_MS = 5 * 60_000;

// A time in the future would be billed to a later period, outside this month's budget.
const OccurredAt = z.iso.datetime().refine((value) => Date.parse(value) <= Date.now() + MAX_CLOCK_SKEW_MS, {
  message: `must not be in the future (at most ${MAX_CLOCK_SKEW_MS / 60_000} minutes ahead of the server clock)`,
});

export const UsageReportBody = z.object({
  model: ModelId,
  // Cache writes are part of input, and 1-hour writes part of the cache writes.
  tokens: z
    .object({
      input: Count,
      output: Count,
      cached_input: Count.optional(),
      cache_write: Count.optional(),
      cache_write_1h: Count.optional(),
      reasoning: Count.optional(),
    })
    .refine((t) => (t.cache_write ?? 0) + (t.cached_input ?? 0) <= t.input, {
      message:
        "with tokens.cached_input must not exceed tokens.input (cache reads and writes are both part of the input)",
      path: ["cache_write"],
    })
    .refine((t) => (t.cache_write_1h ?? 0) <= (t.cache_write ?? 0), {
      message: "must not exceed tokens.cache_write (1-hour writes are part of the cache writes)",
      path: ["cache_write_1h"],
    }),
  cost_micros: NonNegativeMicros.optional(),
  status: UsageStatus.default("success"),
  error_code: z.string().max(64).nullable().optional(),
  latency_ms: Count.default(0),
  stream: z.boolean().default(false),
  provider: z.string().min(1).max(64).nullable().optional(),
  request_id: z.string().min(1).max(128).optional(),
  reservation_id: z.string().min(1).max(128).nullable().optional(),
  key_id: z.string().min(1).max(64).nullable().optional(),
  user_id: z.string().min(1).max(64).nullable().optional(),
  occurred_at: OccurredAt.optional(),
  metadata: z.record(z.string(), z.string().max(1_000)).optional(),
});

export const IdempotencyKey = z
  .string({ message: "send an Idempotency-Key header (1-255 characters) so a retried report counts once" })
  .min(1)
  .max(255);

export const UsageListQuery = z.object({
  tenant_id: z.string().min(1).optional(),
  page: z.coerce.number().int().positive().default(1),
  per_page: z.coerce.number().int().min(1).max(500).default(50),
  model: z.string().min(1).optional(),
  key_id: z.string().min(1).optional(),
  user_id: z.string().min(1).optional(),
  status: UsageStatus.optional(),
  from: z.iso.datetime({ offset: true }).optional(),
  to: z.iso.datetime({ offset: true }).optional(),
});

export const SummaryQuery = z.object({
  tenant_id: z.string().min(1).optional(),
  period: PeriodId.optional(),
  format: z.enum(["json", "csv"]).optional(),
});
