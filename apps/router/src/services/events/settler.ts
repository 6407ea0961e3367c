import { type Admission, holdMicros, type SettleRequest } from "@cloudfreedom/admission";
import type { Logger } from "@cloudfreedom/service-kit";
import type { Span, UsageEventInput } from "@cloudfreedom/shared";
import type { EventPublisher } from "./publisher.ts";

const MAX_BATCH = 500;
const MAX_PENDING = 100_000;
const MAX_BACKOFF_MS = 1_000;

/** A budget refusal's scope and how much more room the request needed (spent + held + requested − limit). */
export interface BudgetRefusal {
  tenantId: string;
  scope: "tenant" | "user" | "key";
  scopeId: string | null;
  shortfallMicros: number;
}

/** A finished call's usage event and span. */
export interface CallEvents {
  event: UsageEventInput;
  span: Span;
}

interface Pending {
  settle: SettleRequest;
  /** Builds the event and span; called once, when the call is first flushed (its ids must not change). */
  build: () => CallEvents;
  /** null: building failed (a bug), logged once; the call is still settled. */
  built?: CallEvents | null;
}

/**
 * Settlement leaves the request path like events do: finished calls are settled in one pipelined round trip
 * per flush (a few ms), and each call's usage event is published only once its settlement is in Redis. That
 * order is what keeps a reseed from counting a call twice: an event the billing worker persisted to PocketBase
 * was already in the counters. A batch that cannot reach Redis is retried with backoff; settling is
 * idempotent, so a retry after a lost reply changes nothing. On shutdown, or when the backlog is full, what
 * cannot be settled is published unsettled: its event carries `settlement` (with the call's hold) and the
 * billing worker settles and charges it, so the usage is neither lost nor missing from the budget counters.
 */
export class Settler {
  private pending: Pending[] = [];
  private timer: ReturnType<typeof setTimeout> | undefined;
  private flushing: Promise<void> | undefined;
  private failures = 0;
  /** The batch a flush is settling now (taken off `pending`). */
  private settling: Pending[] = [];
  private closed = false;

  constructor(
    private readonly deps: { admission: Admission; events: EventPublisher; flushMs: number; logger: Logger },
  ) {}

  /** `build` makes the call's usage event and span, off the request path (at the next flush). */
  submit(settle: SettleRequest, build: () => CallEvents): void {
    if (this.pending.length >= MAX_PENDING) {
      this.deps.logger.error(
        { reservation_id: settle.reservationId },
        "settlement backlog full (Redis unreachable?): publishing unsettled, for the billing worker to settle",
      );
      this.publishUnsettled({ settle, build });
      return;
    }
    this.pending.push({ settle, build });
    this.schedule(this.deps.flushMs);
  }

  get backlog(): number {
    return this.pending.length;
  }

  /** Settle what is pending. A timer that fires while a flush runs re-arms after it, so nothing is stranded. */
  flush(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (this.flushing) return this.flushing;
    this.flushing = this.settleBatch().finally(() => {
      this.flushing = undefined;
      if (this.pending.length > 0) this.schedule(this.failures > 0 ? this.backoffMs() : this.deps.flushMs);
    });
    return this.flushing;
  }

  /**
   * On a budget refusal: settles at once the finished calls of the refused scope that still wait for their
   * flush (a flush in flight included), provided what they free (hold − cost) covers the refusal's shortfall.
   * True once every one of them is settled; false when there were none, they would not free enough, Redis
   * fails, the settler is closing, or it takes longer than `timeoutMs` (the settling goes on regardless).
   */
  async settleForRefusal(refusal: BudgetRefusal, timeoutMs: number): Promise<boolean> {
    if (this.closed || this.failures > 0) return false;
    const { tenantId, scope, scopeId } = refusal;
    const concerned = [...this.settling, ...this.pending].filter(
      ({ settle }) =>
        settle.tenantId === tenantId &&
        (scope === "tenant" || (scope === "user" ? settle.userId : settle.keyId) === scopeId),
    );
    const frees = concerned.reduce(
      (total, { settle }) => total + Math.max(0, holdMicros(settle.hold) - Math.round(settle.billedMicros)),
      0,
    );
    if (concerned.length === 0 || frees < refusal.shortfallMicros) return false;
    const waiting = new Set(concerned);
    const unsettled = () =>
      this.settling.some((i) => waiting.has(i)) || this.pending.some((i) => waiting.has(i));
    const settle = async () => {
      // A batch holds up to MAX_BATCH calls: a few rounds reach the last of them.
      for (let round = 0; round < 4 && unsettled() && !this.closed && this.failures === 0; round++) {
        await this.flush();
      }
      return !unsettled();
    };
    let timer: ReturnType<typeof setTimeout> | undefined;
    const late = new Promise<false>((resolve) => {
      timer = setTimeout(() => resolve(false), timeoutMs);
    });
    try {
      return await Promise.race([settle(), late]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Settles what it can, then publishes every remaining event so no usage is lost at shutdown. */
  async close(): Promise<void> {
    this.closed = true;
    await this.flushing;
    for (let before = Number.POSITIVE_INFINITY; this.pending.length > 0 && this.pending.length < before; ) {
      before = this.pending.length;
      await this.flush();
    }
    clearTimeout(this.timer);
    this.timer = undefined;
    const left = this.pending.splice(0);
    if (left.length > 0)
      this.deps.logger.error(
        { unsettled: left.length },
        "shutting down with unsettled calls; published for the billing worker to settle",
      );
    for (const item of left) this.publishUnsettled(item);
  }

  private publish(item: Pending): void {
    const built = this.eventsOf(item);
    if (built) this.deps.events.publish(built.event, built.span);
  }

  /** A call this router could not settle: the billing worker settles (and charges) it from its event. */
  private publishUnsettled(item: Pending): void {
    const built = this.eventsOf(item);
    if (!built) return;
    const settlement = { hold: item.settle.hold ?? null };
    this.deps.events.publish({ ...built.event, settlement }, built.span);
  }

  /** The call's event and span, built once; a builder that throws costs that one call's events, not a batch. */
  private eventsOf(item: Pending): CallEvents | null {
    if (item.built === undefined) {
      try {
        item.built = item.build();
      } catch (error) {
        item.built = null;
        this.deps.logger.error(
          { err: error, reservation_id: item.settle.reservationId },
          "could not build the usage event and span of a call; it is settled without them",
        );
      }
    }
    return item.built;
  }

  private schedule(ms: number): void {
    this.timer ??= setTimeout(() => void this.flush(), ms);
  }

  private backoffMs(): number {
    return Math.min(MAX_BACKOFF_MS, this.deps.flushMs * 2 ** Math.min(this.failures, 10));
  }

  private async settleBatch(): Promise<void> {
    const batch = this.pending.splice(0, MAX_BATCH);
    if (batch.length === 0) return;
    this.settling = batch;
    try {
      await this.settleTaken(batch);
    } finally {
      this.settling = [];
    }
  }

  private async settleTaken(batch: Pending[]): Promise<void> {
    // Built now, once: a batch that must be retried keeps its event ids.
    for (const item of batch) this.eventsOf(item);
    let results: Awaited<ReturnType<Admission["settle"]>>;
    try {
      results = await this.deps.admission.settle(batch.map((item) => item.settle));
    } catch (error) {
      // settle() reports per-item failures; should it ever throw, the batch must not be lost either.
      results = batch.map(() => ({
        kind: "failed" as const,
        error: error instanceof Error ? error : new Error(String(error)),
      }));
    }
    const retry: Pending[] = [];
    batch.forEach((item, i) => {
      const result = results[i];
      if (!result || result.kind === "failed" || result.kind === "unseeded") retry.push(item);
      else this.publish(item);
    });
    // Settled events go to their queue now rather than a flush window later: half the time in memory.
    if (retry.length < batch.length) void this.deps.events.flush();
    if (retry.length === 0) {
      this.failures = 0;
      return;
    }
    this.failures += 1;
    this.pending.unshift(...retry);
    if (this.failures !== 1 && this.failures % 30 !== 0) return;
    const first = results.find((result) => result?.kind === "failed");
    this.deps.logger.warn(
      {
        err: first && "error" in first ? first.error : undefined,
        unsettled: retry.length,
        attempt: this.failures,
      },
      "settlements not written yet; will retry",
    );
  }
}
