import type { QueueName, QueuePayload, QueuePayloadInput } from "@cloudfreedom/shared";
import type { JobsOptions } from "bullmq";
import { Queue } from "bullmq";
import type { Redis } from "ioredis";
import { buildJobOptions, DEFAULT_QUEUE_PREFIX } from "./job-options.ts";
import { parsePayload, QueuePayloadError } from "./payload.ts";
import type { RawJob } from "./types.ts";

export interface ProducerOptions {
  /**
   * Shared, never closed here. On the request path use a `request` connection awaited with `waitForRedis`:
   * an add then fails fast while Redis is down, where a `queue` connection waits for the reconnect.
   */
  connection: Redis;
  prefix?: string;
  /** Overrides of DEFAULT_JOB_OPTIONS and the queue's own (QUEUE_JOB_OPTIONS) for every job of this producer. */
  jobOptions?: JobsOptions;
  /**
   * `false` skips the producer-side schema check for payloads built by typed code on a hot path (the
   * router's usage events and spans): it costs ~6 % of the router's CPU. Consumers parse every payload
   * regardless, so a bad one still fails loudly there. Default true.
   */
  validate?: boolean;
}

export interface AddOptions {
  /** De-duplication key: a second add with the same id, while the first is still retained, is ignored. */
  jobId?: string;
  delayMs?: number;
}

export interface BulkItem<Q extends QueueName> extends AddOptions {
  payload: QueuePayloadInput<Q>;
}

export interface Producer<Q extends QueueName> {
  readonly queueName: Q;
  /** Validates with the queue's schema (throws QueuePayloadError, nothing enqueued), then enqueues. */
  add(payload: QueuePayloadInput<Q>, options?: AddOptions): Promise<RawJob>;
  /** All-or-nothing validation: one bad payload rejects the whole batch before anything is enqueued. */
  addBulk(items: ReadonlyArray<BulkItem<Q>>): Promise<RawJob[]>;
  close(): Promise<void>;
}

function validated<Q extends QueueName>(queueName: Q, payload: unknown): QueuePayload<Q> {
  const result = parsePayload(queueName, payload);
  if (!result.success) throw new QueuePayloadError(queueName, result.issues);
  return result.data;
}

function perJobOptions(options: AddOptions | undefined): JobsOptions {
  return {
    ...(options?.jobId !== undefined ? { jobId: options.jobId } : {}),
    ...(options?.delayMs !== undefined ? { delay: options.delayMs } : {}),
  };
}

export function createProducer<Q extends QueueName>(queueName: Q, options: ProducerOptions): Producer<Q> {
  const queue = new Queue<unknown, unknown, string>(queueName, {
    connection: options.connection,
    prefix: options.prefix ?? DEFAULT_QUEUE_PREFIX,
    defaultJobOptions: buildJobOptions(options.jobOptions, queueName),
  });
  const check = options.validate === false ? (_queue: Q, payload: unknown) => payload : validated;
  return {
    queueName,
    // The parsed payload is enqueued: defaults applied once, unknown fields dropped.
    // async so a bad payload surfaces as a rejection, like every other enqueue failure.
    add: async (payload, addOptions) =>
      queue.add(queueName, check(queueName, payload), perJobOptions(addOptions)),
    addBulk: async (items) => {
      const jobs = items.map((item) => ({
        name: queueName,
        data: check(queueName, item.payload),
        opts: perJobOptions(item),
      }));
      return queue.addBulk(jobs);
    },
    close: () => queue.close(),
  };
}
