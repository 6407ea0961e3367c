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

/** The defaults with a caller's overrides on top (e.g. a tiny backoff in tests). */
export function buildJobOptions(overrides: JobsOptions = {}): JobsOptions {
  return { ...DEFAULT_JOB_OPTIONS, ...overrides };
}
