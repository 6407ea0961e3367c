import type { z } from "zod";
import { analyticsQueue } from "./analytics.ts";
import { billingMaintenanceQueue } from "./billing-maintenance.ts";
import { tracesQueue } from "./traces.ts";
import { usageQueue } from "./usage.ts";

export * from "./analytics.ts";
export * from "./billing-maintenance.ts";
export * from "./usage.ts";

/** Every queue of DESIGN.md §9, by name. Producers and consumers are built from this map. */
export const QUEUES = {
  usage: usageQueue,
  traces: tracesQueue,
  analytics: analyticsQueue,
  "billing-maintenance": billingMaintenanceQueue,
} as const;

export type QueueName = keyof typeof QUEUES;
export const QUEUE_NAMES = Object.keys(QUEUES) as QueueName[];
export type QueuePayload<Q extends QueueName> = z.infer<(typeof QUEUES)[Q]["payload"]>;
/** The payload as a producer may write it (defaults not yet applied). */
export type QueuePayloadInput<Q extends QueueName> = z.input<(typeof QUEUES)[Q]["payload"]>;
