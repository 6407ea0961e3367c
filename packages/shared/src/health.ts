import { z } from "zod";

export const DependencyState = z.enum(["connected", "disconnected"]);

/** `/ready` body (DESIGN.md §10): 200 with `ready`, 503 with `not_ready` naming what is down. */
export const ReadyBody = z.object({
  status: z.enum(["ready", "not_ready"]),
  database: DependencyState,
  redis: DependencyState,
  timestamp: z.string(),
});
export type ReadyBody = z.infer<typeof ReadyBody>;

export const HealthBody = z.object({
  status: z.literal("ok"),
  service: z.string(),
  version: z.string(),
  uptime_s: z.number().nonnegative(),
  timestamp: z.string(),
});
export type HealthBody = z.infer<typeof HealthBody>;
