import type { UsageEvent } from "@cloudfreedom/shared";
import type { SettleRequest } from "./settle.ts";

/** A call that failed and cost nothing gives its query back (and the reseed does not count it either). */
export const isRefundable = (status: UsageEvent["status"], billedMicros: number): boolean =>
  status === "error" && billedMicros === 0;

/**
 * Whether the billing worker's settlement of an event charges it: usage reported through the billing API was
 * never held, and a router call published unsettled (`settlement`) was not charged by its router. Such an
 * event is settled with a long memory of its id and not at all once its row is stored, so a redelivery never
 * charges it twice. Every other router event was settled before it was enqueued: its settlement only confirms.
 */
export const chargedByWorker = (event: UsageEvent): boolean =>
  event.source === "api" || event.settlement !== undefined;

/**
 * The settlement a usage event confirms, for the billing worker. A router event was settled by its router
 * (before it was enqueued), so an unknown reservation is left alone: its settled mark may simply have expired,
 * and charging again would count it twice. An event the worker charges (`chargedByWorker`) is charged,
 * idempotently by its reservation id (or event id), releasing the hold it names.
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
    ...(event.settlement?.hold ? { hold: event.settlement.hold } : {}),
    onUnknown: chargedByWorker(event) ? "charge" : "ignore",
  };
}
