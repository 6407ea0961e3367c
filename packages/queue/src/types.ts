import type { Job } from "bullmq";

/** The one thing this package may say: a warning, through the service's logger (pino-compatible). */
export interface QueueLogger {
  warn(obj: Record<string, unknown>, msg: string): void;
}

/**
 * A BullMQ job as stored: `data` is whatever Redis holds, so code reads the parsed payload, never `job.data`.
 */
export type RawJob = Job<unknown, unknown, string>;
