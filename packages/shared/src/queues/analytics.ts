import { z } from "zod";
import { Span } from "../spans.ts";
import { UsageEvent } from "../usage.ts";

/** Queue `analytics`: records already persisted by the billing and traces workers, for rollups. */
export const AnalyticsJob = z.discriminatedUnion("kind", [
  z.object({ kind: z.literal("usage"), events: z.array(UsageEvent).min(1) }),
  z.object({ kind: z.literal("spans"), tenant_id: z.string().min(1), spans: z.array(Span).min(1) }),
]);
export type AnalyticsJob = z.infer<typeof AnalyticsJob>;

export const analyticsQueue = { name: "analytics", payload: AnalyticsJob } as const;
