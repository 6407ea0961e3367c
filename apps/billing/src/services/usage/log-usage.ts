import { createHash } from "node:crypto";
import { holdScopes } from "@cloudfreedom/admission";
import { AppError, applyMarkup, priceUsage, UsageEvent, type UsageEventInput } from "@cloudfreedom/shared";
import type { BillingDeps } from "../../deps.ts";
import { isManager, type Principal } from "../auth/principal.ts";
import { rememberedHold } from "../budgets/reservation-holds.ts";
import { loadTenant, planById } from "../tenants/tenant-plan.ts";
import { findStoredEvents } from "./stored-events.ts";
import { claimUsageReport, releaseReservationClaim } from "./usage-claims.ts";

/** Usage reported by another gateway: what it knows; the rest (tenant, period, billed) is ours to decide. */
export interface UsageReport {
  model: string;
  tokens: {
    input: number;
    output: number;
    cached_input?: number | undefined;
    /** Prompt tokens written to the provider's cache (part of input), of which `cache_write_1h` for 1 hour. */
    cache_write?: number | undefined;
    cache_write_1h?: number | undefined;
    reasoning?: number | undefined;
  };
  /** Provider cost in micro-units; absent = priced from the model catalog. */
  cost_micros?: number | undefined;
  status: UsageEvent["status"];
  error_code?: string | null | undefined;
  latency_ms: number;
  stream: boolean;
  provider?: string | null | undefined;
  request_id?: string | undefined;
  /** From `POST /v1/budget/check` with `reserve: true`: settling releases the hold. */
  reservation_id?: string | null | undefined;
  key_id?: string | null | undefined;
  user_id?: string | null | undefined;
  occurred_at?: string | undefined;
  metadata?: Record<string, string> | undefined;
}

const eventIdOf = (material: string) =>
  `evt_${createHash("sha256").update(material).digest("hex").slice(0, 40)}`;

/** The event id is derived from the tenant and the Idempotency-Key: a retried report is the same event. */
export function usageEventId(tenantId: string, idempotencyKey: string): string {
  return eventIdOf(`${tenantId}\n${idempotencyKey}`);
}

/**
 * A report naming a reservation is that reservation's one event, whatever its Idempotency-Key: usage_logs is
 * unique by (tenant, event_id) but has no key on reservation_id, so folding the reservation into the event id
 * makes the worker store at most one row per reservation, even for a duplicate that got past the API's claim
 * (Redis lost it) or a replay whose job BullMQ no longer remembers. (A header cannot hold the newline, so the
 * two kinds of ids never meet.)
 */
export function reservationEventId(tenantId: string, reservationId: string): string {
  return eventIdOf(`${tenantId}\nreservation\n${reservationId}`);
}

/**
 * The named key and user must be the tenant's. A member reporting with their own session may charge only
 * themselves and their own keys (it counts against those budgets, and the tenant's overage): attributing usage
 * to others is for billing keys (an external gateway) and the tenant's managers.
 */
async function assertOwned(
  deps: Pick<BillingDeps, "db">,
  principal: Exclude<Principal, { kind: "operator" }>,
  report: UsageReport,
): Promise<void> {
  const scoped = deps.db.forTenant(principal.tenantId);
  const ownOnly = principal.kind === "user" && !isManager(principal);
  if (ownOnly && report.user_id && report.user_id !== principal.userId)
    throw new AppError("forbidden", "user_id: a member may report usage only for themselves", {
      field: "user_id",
      required_role: "owner|admin",
    });
  const key = report.key_id
    ? await scoped.collection("api_keys").getFirst({ filter: "id = {:id}", params: { id: report.key_id } })
    : null;
  if (report.key_id && !key) {
    throw new AppError("not_found", `No key ${report.key_id} in this tenant`, { field: "key_id" });
  }
  if (ownOnly && key && key.user !== principal.userId)
    throw new AppError("forbidden", "key_id: a member may report usage only for their own keys", {
      field: "key_id",
      required_role: "owner|admin",
    });
  if (
    report.user_id &&
    !(await scoped
      .collection("memberships")
      .getFirst({ filter: "user = {:id}", params: { id: report.user_id } }))
  ) {
    throw new AppError("not_found", `No user ${report.user_id} in this tenant`, { field: "user_id" });
  }
}

/**
 * A reservation's hold is released from the budgets of the key and user it was taken for, and settlement
 * releases it from the report's: a report naming the reservation must name the same key and user, or that
 * hold would never leave the reservation's budgets (nor the reaper's list). Unknown once the hold expired.
 */
function assertReservationScopes(
  payload: Pick<UsageEventInput, "key_id" | "user_id">,
  reservationId: string,
  scopes: NonNullable<ReturnType<typeof holdScopes>> | null,
): void {
  if (!scopes) return;
  const keyId = payload.key_id ?? null;
  const userId = payload.user_id ?? null;
  if (scopes.keyId === keyId && scopes.userId === userId) return;
  const field = scopes.keyId !== keyId ? "key_id" : "user_id";
  throw new AppError(
    "invalid_request",
    `Reservation ${reservationId} was made for key ${scopes.keyId ?? "(none)"} and user ${scopes.userId ?? "(none)"}; report its usage with the same key_id and user_id (${field} differs)`,
    { field, reservation_id: reservationId, key_id: scopes.keyId, user_id: scopes.userId },
  );
}

/**
 * Usage of the current or the previous period only: those are the periods budgets and the Stripe meter sync
 * still count; a report dated earlier would be booked where nothing bills it (400 naming `occurred_at`).
 */
async function assertBillablePeriod(
  deps: Pick<BillingDeps, "periods">,
  tenantId: string,
  occurredAt: Date,
  now: Date,
): Promise<void> {
  const current = await deps.periods.current(tenantId, now);
  const previous = await deps.periods.current(tenantId, new Date(current.start.getTime() - 1));
  if (occurredAt.getTime() >= previous.start.getTime()) return;
  throw new AppError(
    "validation_failed",
    `occurred_at: usage can be reported for the current and the previous period only (from ${previous.start.toISOString()})`,
    { field: "occurred_at", earliest: previous.start.toISOString() },
  );
}

/**
 * The event as the queue will check it, before the Idempotency-Key is claimed: a report whose derived amounts
 * cannot be carried (a cost or token count so large that the billed amount passes 2^53) is a 400 naming what
 * the caller sent, not a 500 from the queue after the key was taken.
 */
function assertStorable(payload: UsageEventInput, report: UsageReport): void {
  const checked = UsageEvent.safeParse(payload);
  if (checked.success) return;
  const path = checked.error.issues[0]?.path ?? [];
  const derived = path[0] === "cost_micros" || path[0] === "billed_micros";
  const field = derived ? (report.cost_micros !== undefined ? "cost_micros" : "tokens") : path.join(".");
  const message = derived
    ? "the billed amount it gives (with the plan's markup) is beyond what a usage event can carry"
    : (checked.error.issues[0]?.message ?? "invalid");
  throw new AppError("validation_failed", `${field}: ${message}`, { field });
}

/**
 * `POST /v1/usage`: a usage event for the caller's tenant onto queue `usage`, where the billing worker
 * persists it exactly once (as it does the router's). The same Idempotency-Key with the same body is accepted
 * again without effect; with a different body it is refused (409), so a key cannot silently mean two reports.
 * A reservation is reported once: another report naming it is refused (409) without effect. Redis decides
 * that atomically with the key's claim (so of two concurrent reports one wins), and the stored row decides it
 * once Redis forgot (reservationEventId keeps the worker from storing a second row meanwhile).
 */
export async function logUsage(
  deps: Pick<BillingDeps, "db" | "redis" | "catalog" | "periods" | "usageQueue">,
  principal: Exclude<Principal, { kind: "operator" }>,
  report: UsageReport,
  idempotencyKey: string,
): Promise<{ event: UsageEvent; replayed: boolean }> {
  const tenantId = principal.tenantId;
  if (report.key_id || report.user_id) await assertOwned(deps, principal, report);
  const tenant = await loadTenant(deps.db, tenantId);
  const markup =
    principal.kind === "key"
      ? principal.record.tenant_limits.markup_pct
      : ((await planById(deps.db, tenant.plan))?.markup_pct ?? 0);
  const tokens = {
    input: report.tokens.input,
    output: report.tokens.output,
    cached_input: report.tokens.cached_input ?? 0,
    cache_write: report.tokens.cache_write ?? 0,
    cache_write_1h: report.tokens.cache_write_1h ?? 0,
    reasoning: report.tokens.reasoning ?? 0,
  };
  const cost =
    report.cost_micros ?? priceUsage(tokens, (await deps.catalog.require(report.model)).prices, 0).cost;
  // The schema refuses a time further ahead than clock skew explains; within it, now (the server's clock
  // decides the period, so a fast client clock cannot bill the next month).
  const now = new Date();
  const occurredAt =
    report.occurred_at && Date.parse(report.occurred_at) < now.getTime() ? new Date(report.occurred_at) : now;
  if (report.occurred_at) await assertBillablePeriod(deps, tenantId, occurredAt, now);
  const reservationId = report.reservation_id ?? null;
  const hold = reservationId ? await rememberedHold(deps.redis, tenantId, reservationId) : null;
  const held = hold ? holdScopes(hold) : null;
  const eventId = reservationId
    ? reservationEventId(tenantId, reservationId)
    : usageEventId(tenantId, idempotencyKey);
  const payload: UsageEventInput = {
    event_id: eventId,
    request_id: report.request_id ?? `req_${eventId.slice(4, 28)}`,
    tenant_id: tenantId,
    key_id: report.key_id ?? (principal.kind === "key" ? principal.keyId : null),
    user_id: report.user_id ?? principal.userId,
    model: report.model,
    provider: report.provider ?? null,
    deployment: null,
    reservation_id: reservationId,
    // A reservation's usage belongs to the period it was held in, where settlement charges it (as a router
    // call's does): a report just past a period's end must not land in the next one's logs.
    period: held?.period ?? (await deps.periods.current(tenantId, occurredAt)).period,
    tokens,
    cost_micros: cost,
    billed_micros: applyMarkup(cost, markup),
    status: report.status,
    error_code: report.error_code ?? null,
    latency_ms: report.latency_ms,
    stream: report.stream,
    source: "api",
    occurred_at: occurredAt.toISOString(),
    ...(report.metadata ? { metadata: report.metadata } : {}),
  };
  if (reservationId) assertReservationScopes(payload, reservationId, held);
  assertStorable(payload, report);
  const fingerprint = createHash("sha256").update(JSON.stringify(report)).digest("hex");
  const claim = await claimUsageReport(deps.redis, {
    tenantId,
    idempotencyKey,
    fingerprint,
    reservationId,
    stored: reservationId
      ? (await findStoredEvents(deps.db.client, [{ tenant_id: tenantId, event_id: eventId }]))[0] === true
      : false,
  });
  if (claim.kind === "key_conflict") {
    throw new AppError("conflict", "This Idempotency-Key was already used with a different body", {
      field: "idempotency-key",
    });
  }
  if (claim.kind === "reported") {
    throw new AppError(
      "conflict",
      `Usage for reservation ${reservationId} was already reported (event ${eventId}); a reservation is settled by one report only`,
      { field: "reservation_id", reservation_id: reservationId, event_id: eventId },
    );
  }
  // A batch of one, named after its event: the same report enqueued twice is one job while the first is queued
  // or among the completed jobs kept; after that it runs again and finds its row stored.
  const batchId = `job_${eventId.slice("evt_".length)}`;
  try {
    await deps.usageQueue.add({ batch_id: batchId, events: [payload] }, { jobId: batchId });
  } catch (error) {
    // The same key replays (and queues) it again, re-taking the claim; another key must not be told it was
    // reported. The queue's error is the one to report; a claim that could not be freed expires.
    if (reservationId) {
      await releaseReservationClaim(deps.redis, {
        tenantId,
        idempotencyKey,
        fingerprint,
        reservationId,
      }).catch(() => undefined);
    }
    throw error;
  }
  return { event: UsageEvent.parse(payload), replayed: claim.kind === "replayed" };
}
