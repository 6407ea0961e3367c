import type { UsageEvent } from "@cloudfreedom/shared";
import type { SettleRequest } from "./settle.ts";

/** A call that failed and cost nothing gives its query back (and the reseed does not count it either). */
export const isRefundable = (status: UsageEvent["status"], billedMicros: number): boolean =>
  status === "error" && billedMicros === 0;

/**
 * The settlement a usage event confirms, for the billing worker. A router event was settled by its router
 * (before it was enqueued), so an unknown reservation is left alone: its settled mark may simply have expired,
 * and charging again would count it twice. Usage reported through the billing API was never held, so it is
 * charged, idempotently by its reservation id (or event id).
 */
export function settlementOf(event: UsageEvent): SettleRequest {
  return {
    reservationId: event.reservation_id ?? event.event_id,
    tenantId: event.tenant_id,
    keyId: event.key_id,
    userId: event.user_id,
    period: event.period,
    billedMicros: event.billed_micros,
    tokens: event.tokens.input + event.tokens.output,
    refundable: isRefundable(event.status, event.billed_micros),
    onUnknown: event.source === "api" ? "charge" : "ignore",
  };
}
