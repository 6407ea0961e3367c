import type { SettleOptions, SettleRequest, SettleResult } from "@cloudfreedom/admission";
import { chargedByWorker, settlementOf } from "@cloudfreedom/admission";
import { bulkInsert, type PocketBaseClient, type WriteOutcome } from "@cloudfreedom/db";
import { DURABLE_RETRY_HORIZON_MS, type Producer } from "@cloudfreedom/queue";
import type { UsageEvent } from "@cloudfreedom/shared";
import type { Redis } from "ioredis";
import { withRememberedHolds } from "../budgets/reservation-holds.ts";
import { markSnapshotsDirty } from "../budgets/snapshot-queue.ts";
import { forwardToAnalytics } from "./forward-analytics.ts";
import { findStoredEvents } from "./stored-events.ts";
import { type UsageLogWrite, usageLogRow } from "./usage-log-row.ts";

export interface UsagePipelineDeps {
  client: PocketBaseClient;
  redis: Redis;
  analytics: Producer<"analytics">;
  /** packages/admission's `settle`: idempotent by reservation id, for as long as the ids are remembered. */
  settle(batch: SettleRequest[], options?: SettleOptions): Promise<SettleResult[]>;
}

/**
 * Usage the worker charges (reported through the API, or a router call published unsettled) is charged by its
 * settlement here, and its job may be retried for as long as DURABLE_JOB_OPTIONS allow (a PocketBase that
 * refuses writes for hours): its settled ids are remembered that long, so a retry after the router's 15
 * minutes of retention is still known and not charged again.
 */
const CHARGED_SETTLED_RETENTION_MS = DURABLE_RETRY_HORIZON_MS;

/** Retrying cannot help (the row itself is invalid, e.g. its tenant is gone): the job fails for inspection. */
export class PermanentUsageError extends Error {
  override readonly name = "PermanentUsageError";
}

// Per-record rejections only: a whole request answered 404 (a PocketBase without the bulk route, e.g. deployed
// after billing) is retried until it is there.
const PERMANENT_CODES = new Set(["validation_failed", "invalid_request"]);

function outcomeError(outcome: WriteOutcome): Error | null {
  if (outcome.status !== "failed") return null;
  const message = `usage_logs write failed: ${outcome.error.message}`;
  return PERMANENT_CODES.has(outcome.error.code) ? new PermanentUsageError(message) : new Error(message);
}

/**
 * One batch of usage events, exactly once in effect, in this order:
 * 0. skip to 3 for events the worker charges (`chargedByWorker`: API events, router calls published
 *    unsettled) whose row is already stored: their settlement ran before that row was
 *    written, and admission remembers a settled id only for a while (15 to 30 minutes), after which settling
 *    again would charge again (a retry of a stored but unannounced event, a replay whose job BullMQ no longer
 *    remembers, a second report of a reservation, which shares its event id: reservationEventId);
 * 1. confirm settlement (admission, idempotent by reservation id; usage the worker charges is charged here,
 *    before its log exists, so a counter rebuilt from the logs never counts it twice);
 * 2. write `usage_logs` in one bulk insert keyed by (tenant, event_id) (infra/pocketbase/bulk.go: one
 *    transaction, no HTTP sub-request per row): a redelivered event is a duplicate;
 * 3. mark the periods' `budgets` snapshots stale (the refresher recomputes them from the logs);
 * 4. forward the persisted events to queue `analytics` (whose consumer de-duplicates by event id).
 * Returns one error (or null) per event; a job is acknowledged only when its event got null.
 */
export async function persistUsageBatch(
  deps: UsagePipelineDeps,
  events: UsageEvent[],
): Promise<Array<Error | null>> {
  const errors: Array<Error | null> = events.map(() => null);
  // Router events their router settled need no look-up: their settlement only confirms (settlementOf).
  const stored = await storedChargedEvents(deps.client, events, errors);
  const toSettle = events.flatMap((event, i) => (errors[i] || stored[i] ? [] : [{ i, event }]));
  // Usage reported through the API may name a reservation of `POST /v1/budget/check`: release its hold.
  const requests = await withRememberedHolds(
    deps.redis,
    toSettle.map(({ event }) => settlementOf(event)),
    toSettle.map(({ event }) => event.source === "api" && event.reservation_id !== null),
  );
  // Confirmed and charged events are remembered for different times, so they settle in two calls.
  const charged = toSettle.map(({ event }) => chargedByWorker(event));
  const [confirmedResults, chargedResults] = await Promise.all([
    settleSome(deps, requests, charged, false),
    settleSome(deps, requests, charged, true),
  ]);
  toSettle.forEach(({ i }, j) => {
    const result = charged[j] ? chargedResults.get(j) : confirmedResults.get(j);
    if (!result) errors[i] = new Error("settlement failed: no result");
    else if (result.kind === "failed") errors[i] = new Error(`settlement failed: ${result.error.message}`);
    else if (result.kind === "unseeded") errors[i] = new Error("settlement failed: counters not seeded yet");
  });

  const pending = events.flatMap((event, i) =>
    errors[i] || stored[i] ? [] : [{ i, row: usageLogRow(event) }],
  );
  const outcomes: Array<WriteOutcome | null> = events.map(() => null);
  const written = await bulkInsert<UsageLogWrite>(
    deps.client,
    "usage_logs",
    pending.map((item) => item.row),
    { uniqueBy: ["tenant", "event_id"] },
  );
  pending.forEach((item, j) => {
    const outcome = written[j] ?? null;
    outcomes[item.i] = outcome;
    if (outcome) errors[item.i] = outcomeError(outcome);
  });

  // Stored before: announced again, as a duplicate is (the first announcement may have failed).
  const persisted = events.filter((_, i) => (stored[i] || outcomes[i] !== null) && errors[i] === null);
  if (persisted.length === 0) return errors;
  try {
    await markSnapshotsDirty(
      deps.redis,
      persisted.map((event) => ({ tenantId: event.tenant_id, period: event.period })),
    );
    await forwardToAnalytics(deps.analytics, persisted);
  } catch (error) {
    const failure = new Error(`usage persisted but not yet announced: ${String(error)}`);
    events.forEach((_, i) => {
      if (errors[i] === null) errors[i] = failure;
    });
  }
  return errors;
}

/** Settles the requests whose `charged` is `which` (charged ones with a long retention), by index in `requests`. */
async function settleSome(
  deps: UsagePipelineDeps,
  requests: SettleRequest[],
  charged: boolean[],
  which: boolean,
): Promise<Map<number, SettleResult>> {
  const indexes = requests.flatMap((_, j) => (charged[j] === which ? [j] : []));
  if (indexes.length === 0) return new Map();
  const batch = indexes.flatMap((j) => (requests[j] ? [requests[j]] : []));
  const results = await deps.settle(batch, which ? { retentionMs: CHARGED_SETTLED_RETENTION_MS } : {});
  return new Map(indexes.map((j, k) => [j, results[k] ?? { kind: "failed", error: new Error("no result") }]));
}

/** Which events the worker charges already have their row; when PocketBase cannot say, those fail (retried). */
async function storedChargedEvents(
  client: PocketBaseClient,
  events: UsageEvent[],
  errors: Array<Error | null>,
): Promise<boolean[]> {
  const stored = events.map(() => false);
  const charged = events.flatMap((event, i) => (chargedByWorker(event) ? [{ i, event }] : []));
  if (charged.length === 0) return stored;
  try {
    const found = await findStoredEvents(
      client,
      charged.map((item) => item.event),
    );
    charged.forEach(({ i }, j) => {
      stored[i] = found[j] === true;
    });
  } catch (error) {
    const failure = new Error(`looking up stored usage failed: ${String(error)}`);
    for (const { i } of charged) errors[i] = failure;
  }
  return stored;
}
