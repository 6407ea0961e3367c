import type { QueueName } from "@cloudfreedom/shared";
import type { JobsOptions } from "bullmq";

/** BullMQ's `prefix`: every queue key lives under `cf:<queue>:…`, next to the platform's other `cf:` keys. */
export const DEFAULT_QUEUE_PREFIX = "cf";

const HOUR_SECONDS = 60 * 60;
const DAY_SECONDS = 24 * HOUR_SECONDS;

/**
 * Eight attempts with exponential backoff from 1 s ride out a ~2 minute outage of a consumer's dependency.
 * Completed jobs are kept a day (bounded by count): a re-add with the same `jobId` inside that window is
 * ignored. Failed jobs stay a week for inspection.
 */
export const DEFAULT_JOB_OPTIONS = {
  attempts: 8,
  backoff: { type: "exponential", delay: 1_000 },
  removeOnComplete: { age: DAY_SECONDS, count: 10_000 },
  removeOnFail: { age: 7 * DAY_SECONDS, count: 100_000 },
} as const satisfies JobsOptions;

/** The longest wait between two attempts of a `capped` backoff. */
export const CAPPED_BACKOFF_MAX_MS = 60_000;

/**
 * For jobs that carry money (usage): retried for about a day and a half, never more than a minute apart, so
 * an outage of the consumer's dependency (PocketBase, Redis) of any realistic length delays usage but never
 * parks it in the failed set, and the first attempt after the outage comes within a minute of its end.
 * Permanent failures still fail at once (UnrecoverableError).
 */
export const DURABLE_JOB_OPTIONS = {
  attempts: 2_000,
  backoff: { type: "capped", delay: 1_000 },
} as const satisfies JobsOptions;

/** How long a durable job may be retried at most: its attempts, each at most a capped backoff apart (~33 h). */
export const DURABLE_RETRY_HORIZON_MS = DURABLE_JOB_OPTIONS.attempts * CAPPED_BACKOFF_MAX_MS;

/**
 * The worker's strategy for custom backoff types (`capped`): exponential from the job's `backoff.delay`,
 * at most CAPPED_BACKOFF_MAX_MS. `attemptsMade` starts at 1 for the first retry.
 */
export function cappedBackoff(attemptsMade: number, delayMs = 1_000): number {
  const exponent = Math.min(Math.max(0, attemptsMade - 1), 30);
  return Math.min(CAPPED_BACKOFF_MAX_MS, delayMs * 2 ** exponent);
}

/**
 * Retention of the queues whose jobs carry events (usage, analytics, traces). BullMQ keeps a completed job
 * whole, payload included, and at the default retention (10,000 jobs for a day) these would hold ~0.5 KB of
 * Redis per event and queue (bench/usage: +53 MB for 50,000 events, each in `usage` and `analytics`): at
 * 10,000 events/s ~250 MB for `usage` (jobs of 50 events) and ~2.5 GB for `analytics` (500 per job), until
 * Redis runs out of memory and admission, which fails closed, with it. The last 100 completed jobs are kept
 * to look at (BullMQ trims when a job completes, then also those older than an hour). A job re-added after
 * its completed copy is gone runs again: the billing worker finds its usage events stored (by tenant and
 * event id); the analytics and traces consumers are to de-duplicate by the ids events carry (DESIGN.md §5).
 * Failed `usage` jobs keep the general retention (100,000 for a week): they hold billable usage that could
 * not be stored, to be re-driven once the cause is fixed.
 */
export const EVENT_QUEUE_RETENTION = {
  removeOnComplete: { age: HOUR_SECONDS, count: 100 },
} as const satisfies JobsOptions;

/**
 * `analytics` and `traces` also keep at most 1,000 failed jobs (for a week): what they carry is derived
 * (analytics from the stored usage logs) or diagnostic (spans), and a consumer failing every job would
 * otherwise park up to 100,000 of them, ~25 GB of Redis at 500 events a job.
 */
export const DERIVED_EVENT_QUEUE_RETENTION = {
  ...EVENT_QUEUE_RETENTION,
  removeOnFail: { age: 7 * DAY_SECONDS, count: 1_000 },
} as const satisfies JobsOptions;

/** A queue's own defaults, over DEFAULT_JOB_OPTIONS. */
export const QUEUE_JOB_OPTIONS: Readonly<Partial<Record<QueueName, JobsOptions>>> = {
  usage: EVENT_QUEUE_RETENTION,
  analytics: DERIVED_EVENT_QUEUE_RETENTION,
  traces: DERIVED_EVENT_QUEUE_RETENTION,
};

/** The defaults, then the queue's own (when named), then a caller's overrides (e.g. a tiny backoff in tests). */
export function buildJobOptions(overrides: JobsOptions = {}, queueName?: QueueName): JobsOptions {
  return { ...DEFAULT_JOB_OPTIONS, ...(queueName ? QUEUE_JOB_OPTIONS[queueName] : {}), ...overrides };
}
