import { createHash } from "node:crypto";
import type { Producer } from "@cloudfreedom/queue";
import type { UsageEvent } from "@cloudfreedom/shared";

const EVENTS_PER_JOB = 500;

/**
 * Persisted usage to queue `analytics`, a job per ≤500 events. The job id is a digest of its event ids, so a
 * batch forwarded again unchanged (a retry) is dropped by BullMQ while its first copy is queued or among the
 * completed jobs kept (EVENT_QUEUE_RETENTION); otherwise, and for a regrouped batch, the analytics consumer
 * is to key on event id (DESIGN.md §5).
 */
export async function forwardToAnalytics(
  producer: Producer<"analytics">,
  events: UsageEvent[],
): Promise<void> {
  const items = [];
  for (let i = 0; i < events.length; i += EVENTS_PER_JOB) {
    const chunk = events.slice(i, i + EVENTS_PER_JOB);
    const digest = createHash("sha256");
    for (const event of chunk) digest.update(event.event_id);
    items.push({
      payload: { kind: "usage" as const, events: chunk },
      jobId: `usage-${digest.digest("hex")}`,
    });
  }
  if (items.length > 0) await producer.addBulk(items);
}
