import { z } from "zod";
import { prefixedId } from "../ids.ts";
import { UsageEvent } from "../usage.ts";

/** Events per `usage` job at most: one router flush, or one API call. */
export const MAX_USAGE_BATCH = 1_000;

/**
 * A batch of usage events: one job per router flush instead of one per request, which is what keeps the
 * queue (a BullMQ script run per job) off the hot path's Redis budget. `batch_id` is the job id, so a
 * re-sent batch is ignored by the queue; each event's `event_id` is still what makes its effect happen once.
 */
export const UsageBatch = z.object({
  batch_id: prefixedId("job"),
  events: z.array(UsageEvent).min(1).max(MAX_USAGE_BATCH),
});
export type UsageBatch = z.infer<typeof UsageBatch>;

/** Queue `usage`: router and billing API produce batches, the billing worker consumes them. */
export const usageQueue = { name: "usage", payload: UsageBatch } as const;
