import { z } from "zod";
import { PeriodId } from "../period.ts";

/** Queue `billing-maintenance`: repeatable housekeeping run by the billing worker. */
export const BillingMaintenanceJob = z.discriminatedUnion("kind", [
  z.object({ kind: z.literal("period_rollover"), period: PeriodId.optional() }),
  z.object({ kind: z.literal("reservation_reaper") }),
  z.object({ kind: z.literal("stripe_meter_sync") }),
  /** Downgrades tenants whose past-due subscription outlived its grace period. */
  z.object({ kind: z.literal("payment_grace_expiry") }),
]);
export type BillingMaintenanceJob = z.infer<typeof BillingMaintenanceJob>;

export const billingMaintenanceQueue = {
  name: "billing-maintenance",
  payload: BillingMaintenanceJob,
} as const;
