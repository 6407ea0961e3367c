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
