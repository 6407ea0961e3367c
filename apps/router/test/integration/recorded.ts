import { type Span, SpanBatch, UsageBatch, type UsageEvent } from "@cloudfreedom/shared";
import { Queue } from "bullmq";
import type { RouterStack } from "./stack.ts";

/** The stack's `usage` and `traces` queues, read as the billing and traces workers would. */
export interface RecordedCalls {
  /** The usage event and span of a request, once both were published (5 s at most). */
  recorded(requestId: string): Promise<{ event: UsageEvent; span: Span }>;
  /** Empties both queues (between tests). */
  clear(): Promise<void>;
  close(): Promise<void>;
}

export function recordedCalls(stack: RouterStack): RecordedCalls {
  const connection = { url: stack.redisDb.url };
  const usageQueue = new Queue("usage", { connection, prefix: "cf" });
  const tracesQueue = new Queue("traces", { connection, prefix: "cf" });
  return {
    async recorded(requestId) {
      const deadline = Date.now() + 5_000;
      while (Date.now() < deadline) {
        const events = (await usageQueue.getJobs(["waiting"])).flatMap(
          (job) => UsageBatch.parse(job.data).events,
        );
        const spans = (await tracesQueue.getJobs(["waiting"])).flatMap(
          (job) => SpanBatch.parse(job.data).spans,
        );
        const event = events.find((e) => e.request_id === requestId);
        const span = spans.find((s) => s.request_id === requestId);
        if (event && span) return { event, span };
        await new Promise((resolve) => setTimeout(resolve, 25));
      }
      throw new Error(`no usage event and span for ${requestId}`);
    },
    async clear() {
      await Promise.all([usageQueue.obliterate({ force: true }), tracesQueue.obliterate({ force: true })]);
    },
    async close() {
      await Promise.all([usageQueue.close(), tracesQueue.close()]);
    },
  };
}

/**
 * What a call costs at the test catalog's prices (stack.ts): input 1 µ a token, cache reads 0.5 µ, output 2 µ,
 * no cache-write price, so a 5-minute write costs 1.25 µ and a 1-hour write 2 µ (each part rounded up).
 */
export function expectedCost(tokens: UsageEvent["tokens"]): number {
  const writes5m = tokens.cache_write - tokens.cache_write_1h;
  const uncached = tokens.input - tokens.cached_input - tokens.cache_write;
  return (
    uncached +
    Math.ceil(tokens.cached_input / 2) +
    Math.ceil((writes5m * 5) / 4) +
    tokens.cache_write_1h * 2 +
    tokens.output * 2
  );
}
