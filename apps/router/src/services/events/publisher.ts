import type { Producer } from "@cloudfreedom/queue";
import type { Logger } from "@cloudfreedom/service-kit";
import {
  MAX_SPANS_PER_BATCH,
  MAX_USAGE_BATCH,
  newId,
  type QueuePayloadInput,
  redisKeys,
  type Span,
  type UsageEventInput,
} from "@cloudfreedom/shared";
import type { Redis } from "ioredis";

/** Events (and as many spans) held in memory at most while the queue is unreachable. */
const MAX_BUFFERED = 100_000;
/** Batches sent per flush at most (a backlog drains over the next flushes). */
const MAX_BATCHES_PER_FLUSH = 20;
/** A queue connection waits out a Redis outage forever; a flush must not (shutdown waits on it). */
const ENQUEUE_DEADLINE_MS = 5_000;

type UsageBatch = QueuePayloadInput<"usage">;
type SpanBatch = QueuePayloadInput<"traces">;

/**
 * Fails a pending enqueue after the deadline so its batches are sent again by the next flush. Should the late
 * add still land, the re-sent batch has the same job id and the queue ignores it.
 */
async function withinDeadline<T>(work: Promise<T>, deadlineMs: number): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`enqueue took longer than ${deadlineMs} ms`)), deadlineMs);
  });
  try {
    return await Promise.race([work, deadline]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Usage events and LLM spans leave the request path through an in-process buffer flushed every few
 * milliseconds: each flush enqueues ONE `usage` job holding the flush's events and one `traces` job per
 * tenant, instead of a job (a BullMQ script run in Redis) per request. A batch gets its id when it is formed
 * and keeps it until the queue took it: a flush that failed, or timed out and landed anyway, is sent again
 * under the same job id, which the queue ignores; the billing worker also stores each event id once. SIGTERM
 * flushes before exit; what a SIGKILL can lose is at most one flush window.
 */
export class EventPublisher {
  private usage: UsageEventInput[] = [];
  private spans: Array<{ tenantId: string; span: Span }> = [];
  /** Batches formed and not yet taken by the queue, oldest first. */
  private usageBatches: UsageBatch[] = [];
  private spanBatches: SpanBatch[] = [];
  private timer: ReturnType<typeof setTimeout> | undefined;
  private flushing: Promise<void> | undefined;
  private droppedSpans = 0;
  /** Per queue, an add that outlived its deadline and may still be waiting in the connection. */
  private readonly unsettled = new Map<string, Promise<void>>();

  constructor(
    private readonly deps: {
      usageProducer: Producer<"usage">;
      tracesProducer: Producer<"traces">;
      /** Where the batch's keys are marked as used (`cf:keys:last-used`), for auth's flusher. */
      redis: Redis;
      flushMs: number;
      logger: Logger;
      /** How long a flush waits for the queue (default 5 s). */
      enqueueDeadlineMs?: number;
    },
  ) {}

  publish(event: UsageEventInput, span: Span): void {
    if (this.pendingUsage >= MAX_BUFFERED) {
      this.deps.logger.error(
        { event_id: event.event_id },
        "usage buffer full (queue unreachable?): dropping event",
      );
      return;
    }
    this.usage.push(event);
    // Spans are observability, usage is money: when the buffer is full the span goes first.
    if (this.pendingSpans < MAX_BUFFERED) this.spans.push({ tenantId: event.tenant_id, span });
    else if (this.droppedSpans++ % 1_000 === 0)
      this.deps.logger.warn(
        { dropped: this.droppedSpans },
        "span buffer full (queue unreachable?): dropping spans",
      );
    this.schedule();
  }

  /** Events and spans not yet taken by the queue. */
  get pending(): number {
    return this.pendingUsage + this.pendingSpans;
  }

  private get pendingUsage(): number {
    let total = this.usage.length;
    for (const batch of this.usageBatches) total += batch.events.length;
    return total;
  }

  private get pendingSpans(): number {
    let total = this.spans.length;
    for (const batch of this.spanBatches) total += batch.spans.length;
    return total;
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

  /** Cuts what is buffered into batches (returns the new usage batches); they keep their ids until the queue took them. */
  private formBatches(): UsageBatch[] {
    const formed: UsageBatch[] = [];
    while (this.usage.length > 0)
      formed.push({ batch_id: newId("job"), events: this.usage.splice(0, MAX_USAGE_BATCH) });
    this.usageBatches.push(...formed);
    if (this.spans.length === 0) return formed;
    const byTenant = new Map<string, Span[]>();
    for (const { tenantId, span } of this.spans.splice(0)) {
      const spans = byTenant.get(tenantId);
      if (spans) spans.push(span);
      else byTenant.set(tenantId, [span]);
    }
    for (const [tenantId, spans] of byTenant)
      for (let i = 0; i < spans.length; i += MAX_SPANS_PER_BATCH)
        this.spanBatches.push({
          batch_id: newId("job"),
          tenant_id: tenantId,
          source: "router",
          spans: spans.slice(i, i + MAX_SPANS_PER_BATCH),
        });
    return formed;
  }

  /** One `ZADD GT` per flush: the newest use of each key in the batch, never older than what is stored. */
  private async markKeysUsed(batches: UsageBatch[]): Promise<void> {
    const latest = new Map<string, number>();
    for (const batch of batches)
      for (const event of batch.events) {
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
    const formed = this.formBatches();
    const usage = this.usageBatches.slice(0, MAX_BATCHES_PER_FLUSH);
    const spans = this.spanBatches.slice(0, MAX_BATCHES_PER_FLUSH);
    // Sent in the same turn, so one socket write carries all three (the connection coalesces them). The keys
    // of a batch are marked once, when it is formed, without waiting for its enqueue (the calls happened
    // either way), and the flush does not wait for the mark: on a queue connection a command waits out a
    // Redis outage, and a flush must not (shutdown waits on it).
    void this.markKeysUsed(formed);
    const [usageSent, spansSent] = await Promise.all([
      this.enqueue(this.deps.usageProducer, usage, () => ({
        events: usage.reduce((n, batch) => n + batch.events.length, 0),
      })),
      this.enqueue(this.deps.tracesProducer, spans, () => ({
        spans: spans.reduce((n, batch) => n + batch.spans.length, 0),
      })),
    ]);
    if (usageSent) this.usageBatches.splice(0, usage.length);
    if (spansSent) this.spanBatches.splice(0, spans.length);
  }

  /**
   * One pipelined `addBulk`, each batch under its own id; false (logged) when the queue did not take it. While
   * an earlier add of this queue is still waiting in the connection (Redis away), nothing is sent again:
   * re-sending would only pile copies of the same batches up in the connection's offline queue.
   */
  private async enqueue<Q extends "usage" | "traces">(
    producer: Producer<Q>,
    batches: Array<QueuePayloadInput<Q> & { batch_id: string }>,
    sizeOf: () => Record<string, number>,
  ): Promise<boolean> {
    if (batches.length === 0) return true;
    if (this.unsettled.has(producer.queueName)) return false;
    const work = producer.addBulk(batches.map((payload) => ({ payload, jobId: payload.batch_id })));
    try {
      await withinDeadline(work, this.deps.enqueueDeadlineMs ?? ENQUEUE_DEADLINE_MS);
      return true;
    } catch (error) {
      const settled = work.then(
        () => undefined,
        () => undefined,
      );
      this.unsettled.set(producer.queueName, settled);
      void settled.then(() => this.unsettled.delete(producer.queueName));
      this.deps.logger.warn(
        { err: error, ...sizeOf() },
        `${producer.queueName} batches not enqueued yet; will retry`,
      );
      return false;
    }
  }
}
