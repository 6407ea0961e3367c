import type { Producer } from "@cloudfreedom/queue";
import type { Logger } from "@cloudfreedom/service-kit";
import { newId, type QueuePayloadInput, redisKeys, type Span } from "@cloudfreedom/shared";
import type { Redis } from "ioredis";

const MAX_BUFFERED = 100_000;
const MAX_BATCH = 500;
/** A queue connection waits out a Redis outage forever; a flush must not (shutdown waits on it). */
const ENQUEUE_DEADLINE_MS = 5_000;

/**
 * Fails a pending enqueue after the deadline so its items go back to the buffer. Should the late add still
 * land, usage jobs carry their event id as job id and the billing worker stores each event id once.
 */
async function withinDeadline<T>(work: Promise<T>): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`enqueue took longer than ${ENQUEUE_DEADLINE_MS} ms`)),
      ENQUEUE_DEADLINE_MS,
    );
  });
  try {
    return await Promise.race([work, deadline]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Usage events and LLM spans leave the request path through an in-process buffer flushed every few
 * milliseconds with one pipelined `addBulk` per queue, instead of two BullMQ round trips per request.
 * Usage jobs are keyed by event id, so a re-sent batch is not counted twice. A flush that fails keeps its
 * items for the next one; SIGTERM flushes before exit. What a SIGKILL can lose is at most one flush window.
 */
export class EventPublisher {
  private usage: Array<QueuePayloadInput<"usage">> = [];
  private spans: Array<{ tenantId: string; span: Span }> = [];
  private timer: ReturnType<typeof setTimeout> | undefined;
  private flushing: Promise<void> | undefined;

  constructor(
    private readonly deps: {
      usageProducer: Producer<"usage">;
      tracesProducer: Producer<"traces">;
      /** Where the batch's keys are marked as used (`cf:keys:last-used`), for auth's flusher. */
      redis: Redis;
      flushMs: number;
      logger: Logger;
    },
  ) {}

  publish(event: QueuePayloadInput<"usage">, span: Span): void {
    if (this.usage.length >= MAX_BUFFERED) {
      this.deps.logger.error(
        { event_id: event.event_id },
        "usage buffer full (queue unreachable?): dropping event",
      );
      return;
    }
    this.usage.push(event);
    this.spans.push({ tenantId: event.tenant_id, span });
    this.schedule();
  }

  get pending(): number {
    return this.usage.length + this.spans.length;
  }

  /** Send what is buffered. A timer that fires while a flush runs re-arms after it, so nothing is stranded. */
  async flush(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (this.flushing) return this.flushing;
    this.flushing = this.send().finally(() => {
      this.flushing = undefined;
      if (this.pending > 0) this.schedule();
    });
    return this.flushing;
  }

  private schedule(): void {
    this.timer ??= setTimeout(() => void this.flush(), this.deps.flushMs);
  }

  /** Flush until empty (or until a flush makes no progress because the queue is unreachable). */
  async close(): Promise<void> {
    clearTimeout(this.timer);
    for (let before = Number.POSITIVE_INFINITY; this.pending > 0 && this.pending < before; ) {
      before = this.pending;
      await this.flush();
    }
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  /** One `ZADD GT` per flush: the newest use of each key in the batch, never older than what is stored. */
  private async markKeysUsed(usage: Array<QueuePayloadInput<"usage">>): Promise<void> {
    const latest = new Map<string, number>();
    for (const event of usage) {
      if (!event.key_id) continue;
      const at = Date.parse(event.occurred_at);
      if (at > (latest.get(event.key_id) ?? 0)) latest.set(event.key_id, at);
    }
    if (latest.size === 0) return;
    const args = [...latest].flatMap(([keyId, at]) => [at, keyId]);
    try {
      await this.deps.redis.zadd(redisKeys.keyLastUsed, "GT", ...args);
    } catch (error) {
      this.deps.logger.warn({ err: error }, "could not mark keys as used");
    }
  }

  private async send(): Promise<void> {
    const usage = this.usage.splice(0, MAX_BATCH);
    const spans = this.spans.splice(0, MAX_BATCH);
    try {
      if (usage.length > 0) {
        await withinDeadline(
          this.deps.usageProducer.addBulk(usage.map((payload) => ({ payload, jobId: payload.event_id }))),
        );
        await this.markKeysUsed(usage);
      }
    } catch (error) {
      this.usage.unshift(...usage);
      this.deps.logger.warn(
        { err: error, events: usage.length },
        "usage events not enqueued yet; will retry",
      );
    }
    try {
      const byTenant = new Map<string, Span[]>();
      for (const { tenantId, span } of spans)
        byTenant.set(tenantId, [...(byTenant.get(tenantId) ?? []), span]);
      if (byTenant.size > 0) {
        await withinDeadline(
          this.deps.tracesProducer.addBulk(
            [...byTenant].map(([tenantId, tenantSpans]) => ({
              payload: {
                batch_id: newId("job"),
                tenant_id: tenantId,
                source: "router" as const,
                spans: tenantSpans,
              },
            })),
          ),
        );
      }
    } catch (error) {
      this.spans.unshift(...spans);
      this.deps.logger.warn({ err: error, spans: spans.length }, "spans not enqueued yet; will retry");
    }
  }
}
