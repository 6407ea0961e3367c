import type { QueueName, QueuePayloadInput } from "@cloudfreedom/shared";
import { Queue } from "bullmq";
import type { Redis } from "ioredis";
import { buildJobOptions, DEFAULT_QUEUE_PREFIX } from "./job-options.ts";
import { parsePayload, QueuePayloadError } from "./payload.ts";

export interface Schedule<Q extends QueueName> {
  /** Stable id: upserting the same id again replaces the schedule instead of adding a second one. */
  id: string;
  payload: QueuePayloadInput<Q>;
  /** Every so many milliseconds, or on a cron pattern (UTC). */
  everyMs?: number;
  cron?: string;
}

/**
 * Repeatable jobs (BullMQ job schedulers), validated like any payload. Idempotent: every replica of a worker
 * may call it at boot; a schedule with the same id is updated in place, so the job still runs once per tick.
 */
export async function upsertSchedules<Q extends QueueName>(
  queueName: Q,
  schedules: ReadonlyArray<Schedule<Q>>,
  options: { connection: Redis; prefix?: string },
): Promise<void> {
  const queue = new Queue(queueName, {
    connection: options.connection,
    prefix: options.prefix ?? DEFAULT_QUEUE_PREFIX,
  });
  try {
    for (const schedule of schedules) {
      const parsed = parsePayload(queueName, schedule.payload);
      if (!parsed.success) throw new QueuePayloadError(queueName, parsed.issues);
      if ((schedule.everyMs === undefined) === (schedule.cron === undefined)) {
        throw new RangeError(`schedule "${schedule.id}" needs exactly one of everyMs and cron`);
      }
      await queue.upsertJobScheduler(
        schedule.id,
        schedule.cron !== undefined ? { pattern: schedule.cron, tz: "UTC" } : { every: schedule.everyMs },
        { name: schedule.id, data: parsed.data, opts: buildJobOptions({ attempts: 3 }) },
      );
    }
  } finally {
    await queue.close();
  }
}
