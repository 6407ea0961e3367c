import type { UsageEvent } from "@cloudfreedom/shared";

interface Pending {
  event: UsageEvent;
  resolve: () => void;
  reject: (error: Error) => void;
}

export interface UsageBatcherOptions {
  maxBatch: number;
  lingerMs: number;
  /** Batches processed at once; PocketBase writes serialize anyway, so 2 overlaps one batch's I/O with the next. */
  maxInFlight?: number;
  process: (events: UsageEvent[]) => Promise<Array<Error | null>>;
}

/**
 * Turns one-job-at-a-time BullMQ delivery into batches: each job handler submits its event and waits for the
 * batch that holds it. A batch is processed when full or `lingerMs` after its first event; the job succeeds or
 * fails with its own event's outcome, so BullMQ retries exactly the events that did not get through.
 */
export class UsageBatcher {
  private pending: Pending[] = [];
  private timer: ReturnType<typeof setTimeout> | undefined;
  private inFlight = 0;
  private readonly idle = new Set<() => void>();

  constructor(private readonly options: UsageBatcherOptions) {}

  submit(event: UsageEvent): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.pending.push({ event, resolve, reject });
      if (this.pending.length >= this.options.maxBatch) this.kick();
      else this.timer ??= setTimeout(() => this.kick(true), this.options.lingerMs);
    });
  }

  /** Resolves when nothing is queued or in flight (after shutdown stopped new submissions). */
  async drained(): Promise<void> {
    if (this.pending.length > 0) this.kick(true);
    if (this.inFlight === 0 && this.pending.length === 0) return;
    await new Promise<void>((resolve) => this.idle.add(resolve));
  }

  private kick(lingered = false): void {
    if (lingered) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    const limit = this.options.maxInFlight ?? 2;
    while (this.inFlight < limit && this.pending.length > 0) {
      if (!lingered && this.pending.length < this.options.maxBatch) break;
      const batch = this.pending.splice(0, this.options.maxBatch);
      this.inFlight += 1;
      void this.run(batch);
    }
    if (this.pending.length > 0 && this.inFlight < limit) {
      this.timer ??= setTimeout(() => this.kick(true), this.options.lingerMs);
    }
  }

  private async run(batch: Pending[]): Promise<void> {
    try {
      const errors = await this.options.process(batch.map((item) => item.event));
      batch.forEach((item, i) => {
        const error = errors[i];
        if (error) item.reject(error);
        else item.resolve();
      });
    } catch (error) {
      const failure = error instanceof Error ? error : new Error(String(error));
      for (const item of batch) item.reject(failure);
    } finally {
      this.inFlight -= 1;
      if (this.pending.length > 0) this.kick(this.timer === undefined);
      else if (this.inFlight === 0) {
        for (const resolve of this.idle) resolve();
        this.idle.clear();
      }
    }
  }
}
