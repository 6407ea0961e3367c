import type { QueueName, QueuePayload } from "@cloudfreedom/shared";
import type { WorkerOptions } from "bullmq";
import { UnrecoverableError, Worker } from "bullmq";
import type { Redis } from "ioredis";
import { cappedBackoff, DEFAULT_QUEUE_PREFIX } from "./job-options.ts";
import { describePayloadIssues, parsePayload } from "./payload.ts";
import type { QueueLogger, RawJob } from "./types.ts";

export type JobHandler<Q extends QueueName> = (payload: QueuePayload<Q>, job: RawJob) => Promise<void> | void;

export interface ConsumerOptions {
  /** A `purpose: "queue"` connection (BullMQ rejects a worker connection with bounded retries). Not closed here. */
  connection: Redis;
  concurrency?: number;
  prefix?: string;
  logger?: QueueLogger;
  /** Further BullMQ worker settings (stalled interval, lock duration, limiter, …). */
  workerOptions?: Omit<WorkerOptions, "connection" | "concurrency" | "prefix">;
}

export interface Consumer {
  readonly queueName: QueueName;
  readonly worker: Worker<unknown, void, string>;
  /** Resolves once the worker's connections are ready. */
  ready(): Promise<void>;
  /** Stops taking jobs and waits for the in-flight ones to finish. */
  close(): Promise<void>;
}

/** Wraps a handler so it only ever sees a payload that parsed; a payload that cannot parse fails once. */
export function parsingProcessor<Q extends QueueName>(queueName: Q, handler: JobHandler<Q>) {
  return async (job: RawJob): Promise<void> => {
    const parsed = parsePayload(queueName, job.data);
    // Retrying cannot fix a malformed payload: fail it now and keep it in the failed set for inspection.
    if (!parsed.success) throw new UnrecoverableError(describePayloadIssues(queueName, parsed.issues));
    await handler(parsed.data, job);
  };
}

/** BullMQ's own message for this is cryptic; say which factory option fixes it. */
function assertQueueConnection(queueName: QueueName, connection: Redis): void {
  if (connection.options.maxRetriesPerRequest !== null) {
    throw new Error(
      `register("${queueName}"): the worker connection must be created with createRedis({ purpose: "queue" })`,
    );
  }
}

export function register<Q extends QueueName>(
  queueName: Q,
  handler: JobHandler<Q>,
  options: ConsumerOptions,
): Consumer {
  assertQueueConnection(queueName, options.connection);
  const worker = new Worker<unknown, void, string>(queueName, parsingProcessor(queueName, handler), {
    ...options.workerOptions,
    settings: {
      backoffStrategy: (attemptsMade, _type, _err, job) =>
        cappedBackoff(attemptsMade, (job?.opts.backoff as { delay?: number } | undefined)?.delay),
      ...options.workerOptions?.settings,
    },
    connection: options.connection,
    concurrency: options.concurrency ?? 1,
    prefix: options.prefix ?? DEFAULT_QUEUE_PREFIX,
  });
  const logger = options.logger;
  // A Worker is an EventEmitter: an `error` without a listener would crash the process.
  worker.on("error", (err) => logger?.warn({ err, queue: queueName }, "queue worker error"));
  worker.on("failed", (job, err) => {
    logger?.warn(
      {
        err,
        queue: queueName,
        job_id: job?.id,
        attempts_made: job?.attemptsMade,
        final: isFinalFailure(job, err),
      },
      "queue job failed",
    );
  });
  return {
    queueName,
    worker,
    ready: () => worker.waitUntilReady().then(() => undefined),
    close: () => worker.close(),
  };
}

function isFinalFailure(job: RawJob | undefined, err: Error): boolean {
  if (err instanceof UnrecoverableError || err.name === "UnrecoverableError") return true;
  return job ? job.attemptsMade >= (job.opts.attempts ?? 1) : true;
}
