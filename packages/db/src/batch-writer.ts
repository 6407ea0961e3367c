import { AppError } from "@cloudfreedom/shared";
import { failed, type PendingWrite, sendBatch, type WriteOutcome } from "./batch-send.ts";
import type { DbLogger, PocketBaseClient } from "./client.ts";
import { toAppError } from "./errors.ts";
import { compositeKey } from "./existing-keys.ts";
import type { RetryPolicy } from "./retry.ts";

export type { WriteOutcome } from "./batch-send.ts";

export type BatchResult<R> = WriteOutcome & { record: R };

export interface BatchWriterOptions<R extends Record<string, unknown>> {
  client: PocketBaseClient;
  collection: string;
  /** Records per batch request; PocketBase's Settings → Batch → max requests must allow it. */
  maxBatch?: number;
  /** Flush this often while records are queued; 0 or unset flushes only when full or on `flush()`. */
  flushIntervalMs?: number;
  /**
   * The field(s) of a unique index, e.g. `["tenant", "event_id"]` for usage_logs. Only with it is a unique
   * violation on exactly those fields read as "already written".
   */
  idempotencyKey?: (keyof R & string) | ReadonlyArray<keyof R & string>;
  retry?: Partial<RetryPolicy>;
  logger?: DbLogger;
  /** Called with the failed records of every flush, including interval flushes nobody awaits. */
  onFailure?: (failed: BatchResult<R>[]) => void;
}

export interface BatchWriter<R> {
  /** Queues a record; resolves with its outcome once the batch holding it is settled. Never rejects. */
  write(record: R): Promise<WriteOutcome>;
  /**
   * Writes everything queued so far; resolves with one result per queued record, in write order. (A write
   * whose key was already queued is not queued again; its own promise resolves as `duplicate`.)
   */
  flush(): Promise<BatchResult<R>[]>;
  /** Flushes, stops the timer and refuses further writes. */
  close(): Promise<BatchResult<R>[]>;
  readonly queued: number;
}

interface Entry<R> extends PendingWrite<R> {
  outcome: Promise<WriteOutcome>;
}

/**
 * Exactly-once design: a PocketBase batch is one transaction and its error names only the first failing
 * request. When that failure is a unique violation on `idempotencyKey`, we look up which keys of the batch
 * already exist (one query per ~70 keys, not a round trip per duplicate), settle those as `duplicate` and
 * resend the rest. So a retry after an ambiguous failure (committed, response lost) or a re-flush of the same
 * events writes nothing twice. Any other per-record rejection fails that record only; a failure of the whole
 * request is retried with backoff and then reported, never dropped. Without `idempotencyKey`, a retry after
 * an ambiguous failure can write twice (at-least-once).
 */
export function createBatchWriter<R extends Record<string, unknown>>(
  options: BatchWriterOptions<R>,
): BatchWriter<R> {
  const { collection, logger } = options;
  const keyFields: readonly string[] =
    options.idempotencyKey === undefined
      ? []
      : typeof options.idempotencyKey === "string"
        ? [options.idempotencyKey]
        : options.idempotencyKey;
  for (const field of keyFields) {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(field)) throw new RangeError(`not a field name: "${field}"`);
  }
  const maxBatch = options.maxBatch ?? 500;
  const policy: RetryPolicy = { attempts: 5, baseDelayMs: 200, maxDelayMs: 5_000, ...options.retry };
  let queue: Entry<R>[] = [];
  const queuedByKey = new Map<string, Entry<R>>();
  let chain: Promise<void> = Promise.resolve();
  let closed = false;
  const interval = options.flushIntervalMs ?? 0;
  const timer = interval > 0 ? setInterval(() => void (queue.length > 0 && flush()), interval) : null;
  timer?.unref?.();

  async function drain(): Promise<void> {
    while (queue.length > 0) {
      const chunk = queue.slice(0, maxBatch);
      queue = queue.slice(chunk.length);
      for (const entry of chunk) if (entry.key !== null) queuedByKey.delete(entry.key);
      try {
        await sendBatch({ client: options.client, collection, keyFields, policy, logger }, chunk);
      } catch (error) {
        // Settling twice is a no-op, so this only reaches entries an unexpected error left open.
        for (const entry of chunk) entry.settle(failed(toAppError(error)));
      }
    }
  }

  async function flush(): Promise<BatchResult<R>[]> {
    const taken = [...queue];
    chain = chain.then(drain);
    await chain;
    const results = await Promise.all(taken.map(async (e) => ({ ...(await e.outcome), record: e.record })));
    const failures = results.filter((result) => result.status === "failed");
    if (failures.length > 0) {
      logger?.warn({ collection, failed: failures.length }, "batch write left records unwritten");
      options.onFailure?.(failures);
    }
    return results;
  }

  function write(record: R): Promise<WriteOutcome> {
    if (closed) return Promise.resolve(failed(new AppError("internal_error", "The batch writer is closed.")));
    const key = keyFields.length > 0 ? compositeKey(keyFields, record) : null;
    const twin = key === null ? undefined : queuedByKey.get(key);
    // The same key twice in one batch would fail the whole transaction; the later write rides on the first.
    if (twin) {
      return twin.outcome.then(
        (o): WriteOutcome => (o.status === "created" ? { ...o, status: "duplicate" } : o),
      );
    }
    let settle: (outcome: WriteOutcome) => void = () => undefined;
    const outcome = new Promise<WriteOutcome>((resolve) => {
      settle = resolve;
    });
    const entry: Entry<R> = { record, key, outcome, settle };
    queue.push(entry);
    if (key !== null) queuedByKey.set(key, entry);
    if (queue.length >= maxBatch) void flush();
    return outcome;
  }

  return {
    write,
    flush,
    async close() {
      closed = true;
      if (timer) clearInterval(timer);
      return flush();
    },
    get queued() {
      return queue.length;
    },
  };
}
