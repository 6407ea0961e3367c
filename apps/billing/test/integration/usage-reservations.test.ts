import { admissionKeys, NO_LIMITS, readPeriodCounters } from "@cloudfreedom/admission";
import type { ModelRow } from "@cloudfreedom/db";
import { queueDepth } from "@cloudfreedom/queue";
import { newId, periodOf, previousPeriod, type UsageEvent } from "@cloudfreedom/shared";
import { type ServiceProcess, startServiceProcess } from "@cloudfreedom/testing";
import { Queue } from "bullmq";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { rememberHold } from "../../src/services/budgets/reservation-holds.ts";
import {
  eventually,
  type TenantFixture,
  tenantFixture,
  testModel,
  usageEvent,
  usageJobs,
} from "./fixtures.ts";
import { type BillingHarness, startBilling } from "./harness.ts";

// The billing API in process and its worker as a Bun process, over one PocketBase and one leased Redis db.
let h: BillingHarness;
let worker: ServiceProcess;
let model: ModelRow;
const period = periodOf(new Date());

beforeAll(async () => {
  h = await startBilling();
  model = await testModel(h.db);
  worker = await startServiceProcess({
    app: "billing",
    entry: "worker",
    env: { ...h.env, LOG_LEVEL: "info", SHUTDOWN_TIMEOUT_MS: "5000", SNAPSHOT_INTERVAL_MS: "200" },
  });
});
afterAll(async () => {
  await worker?.stop("SIGTERM");
  await h?.stop();
});

const newTenant = () => tenantFixture({ db: h.db, redis: h.redisDb.redis });

// 150 input + 150 output tokens at €1 / €2 per million: 450 micros, 540 with the 20 % markup.
const BILLED = 540;
const report = (reservationId: string) => ({
  model: model.model_id,
  tokens: { input: 150, output: 150 },
  latency_ms: 100,
  reservation_id: reservationId,
});

async function reserve(t: TenantFixture): Promise<string> {
  const res = await h.call("POST", "/v1/budget/check", {
    token: t.billingKey.secret,
    body: { model: model.model_id, input_tokens: 150, max_output_tokens: 150, reserve: true },
  });
  expect(res.status).toBe(200);
  expect(res.body).toMatchObject({ estimated_cost_micros: BILLED, reservation_id: expect.any(String) });
  return String(res.body.reservation_id);
}

const postUsage = (t: TenantFixture, idempotencyKey: string, body: Record<string, unknown>) =>
  h.call("POST", "/v1/usage", {
    token: t.billingKey.secret,
    headers: { "idempotency-key": idempotencyKey },
    body,
  });

async function drained(): Promise<boolean> {
  const depth = await queueDepth("usage", { connection: h.runtime.queueRedis() });
  return depth.waiting === 0 && depth.active === 0 && depth.delayed === 0;
}

/** What the tenant can see once the worker is done: its usage rows, the summary and the live budget. */
async function settledView(t: TenantFixture, rows: number) {
  const usage = await eventually(async () => {
    if (!(await drained())) return undefined;
    const res = await h.call("GET", "/v1/usage", { token: t.billingKey.secret });
    return (res.body.items as unknown[]).length >= rows ? res.body : undefined;
  }, `${rows} usage rows and the queue drained`);
  const summary = await h.call("GET", "/v1/usage/summary", { token: t.billingKey.secret });
  const budget = await h.call("GET", "/v1/budget", { token: t.billingKey.secret });
  const tenantScope = (budget.body.scopes as Array<Record<string, unknown>>).find(
    (scope) => scope.scope_type === "tenant",
  );
  return {
    items: usage.items as Array<Record<string, unknown>>,
    summaryBilled: (summary.body.totals as { billed_micros: number }).billed_micros,
    spent: tenantScope?.spent_micros,
    reserved: tenantScope?.reserved_micros,
  };
}

/** Every usage event queued for a tenant (the last 100 completed jobs are kept; a test makes fewer). */
async function queuedEvents(tenantId: string): Promise<UsageEvent[]> {
  const queue = new Queue("usage", { connection: h.runtime.queueRedis(), prefix: "cf" });
  const jobs = await queue.getJobs(["waiting", "active", "delayed", "completed", "failed"], 0, -1);
  await queue.close();
  return jobs.flatMap((job) =>
    (job.data.events as UsageEvent[]).filter((event) => event.tenant_id === tenantId),
  );
}

/** Redis forgetting what it knew of the tenant's reports and settlements (as after a data loss). */
async function forgetReportsAndSettlements(tenantId: string): Promise<number> {
  const redis = h.redisDb.redis;
  let removed = 0;
  for (const pattern of [`cf:{t:${tenantId}}:usage-*`, `cf:{t:${tenantId}}:settled:*`]) {
    const keys = await redis.keys(pattern);
    if (keys.length > 0) removed += await redis.del(...keys);
  }
  return removed;
}

describe("POST /v1/usage with a reservation", () => {
  it("refuses a second report of a reservation under another Idempotency-Key, storing and charging it once", async () => {
    const t = await newTenant();
    const reservationId = await reserve(t);
    const first = await postUsage(t, "call-a", report(reservationId));
    expect(first.status).toBe(202);
    expect(first.body).toMatchObject({ replayed: false, period, billed_micros: BILLED });
    const eventId = String(first.body.event_id);
    await settledView(t, 1);

    const second = await postUsage(t, "call-b", report(reservationId));
    expect(second.status).toBe(409);
    expect(second.body).toMatchObject({
      status: "error",
      code: "conflict",
      message: expect.stringContaining(
        `reservation ${reservationId} was already reported (event ${eventId})`,
      ),
      details: { field: "reservation_id", reservation_id: reservationId, event_id: eventId },
      timestamp: expect.any(String),
      request_id: expect.any(String),
      error: { message: expect.stringContaining(reservationId) },
    });

    // The original key still replays the same event.
    const replay = await postUsage(t, "call-a", report(reservationId));
    expect(replay.status).toBe(202);
    expect(replay.body).toMatchObject({ replayed: true, event_id: eventId, billed_micros: BILLED });

    const view = await settledView(t, 1);
    expect(view.items).toEqual([expect.objectContaining({ event_id: eventId, billed_micros: BILLED })]);
    expect(view.summaryBilled).toBe(BILLED);
    expect(view.spent).toBe(BILLED);
    expect(view.reserved).toBe(0);
    expect((await queuedEvents(t.tenant.id)).map((event) => event.event_id)).toEqual([eventId]);

    // The refused report left nothing behind: its key is free for another report.
    const other = await postUsage(t, "call-b", { ...report(reservationId), reservation_id: undefined });
    expect(other.status).toBe(202);
    expect(other.body).toMatchObject({ replayed: false });
    expect(other.body.event_id).not.toBe(eventId);
  });

  it("accepts exactly one of two concurrent reports of one reservation", async () => {
    const t = await newTenant();
    const reservationId = await reserve(t);
    const replies = await Promise.all([
      postUsage(t, "race-1", report(reservationId)),
      postUsage(t, "race-2", report(reservationId)),
    ]);
    expect(replies.map((reply) => reply.status).sort()).toEqual([202, 409]);
    const accepted = replies.find((reply) => reply.status === 202);
    const refused = replies.find((reply) => reply.status === 409);
    expect(refused?.body).toMatchObject({
      code: "conflict",
      details: { field: "reservation_id", reservation_id: reservationId, event_id: accepted?.body.event_id },
    });

    const view = await settledView(t, 1);
    expect(view.items).toEqual([expect.objectContaining({ event_id: accepted?.body.event_id })]);
    expect(view.summaryBilled).toBe(BILLED);
    expect(view.spent).toBe(BILLED);
  });

  it("replays the same key and body once its key claim expired, by the reservation's claim", async () => {
    const t = await newTenant();
    const reservationId = await reserve(t);
    const first = await postUsage(t, "late-a", report(reservationId));
    expect(first.status).toBe(202);
    await settledView(t, 1);
    // The Idempotency-Key's claim expires (here: removed); the reservation's claim still names this report.
    const keyClaims = await h.redisDb.redis.keys(`cf:{t:${t.tenant.id}}:usage-idem:*`);
    expect(keyClaims).toHaveLength(1);
    await h.redisDb.redis.del(...keyClaims);

    const replay = await postUsage(t, "late-a", report(reservationId));
    expect(replay.status).toBe(202);
    expect(replay.body).toMatchObject({ replayed: true, event_id: first.body.event_id });
    const other = await postUsage(t, "late-b", report(reservationId));
    expect(other.status).toBe(409);
    const view = await settledView(t, 1);
    expect(view.items).toHaveLength(1);
    expect(view.spent).toBe(BILLED);
  });

  it("refuses a report naming another key than the reservation's, which would leave its hold held", async () => {
    const t = await newTenant();
    const reservationId = await reserve(t);
    const other = await postUsage(t, "scope-a", { ...report(reservationId), key_id: t.chatKey.row.id });
    expect(other.status).toBe(400);
    expect(other.body).toMatchObject({
      code: "invalid_request",
      message: expect.stringContaining(
        `Reservation ${reservationId} was made for key ${t.billingKey.row.id}`,
      ),
      details: { field: "key_id", reservation_id: reservationId, key_id: t.billingKey.row.id },
    });
    // Nothing was claimed: the same reservation is reported with its own key under the same Idempotency-Key.
    const own = await postUsage(t, "scope-a", report(reservationId));
    expect(own.status).toBe(202);
    const view = await settledView(t, 1);
    expect(view.spent).toBe(BILLED);
    expect(view.reserved).toBe(0);
  });

  it("still refuses it once Redis forgot the report: the stored row decides", async () => {
    const t = await newTenant();
    const reservationId = await reserve(t);
    const first = await postUsage(t, "lost-a", report(reservationId));
    expect(first.status).toBe(202);
    await settledView(t, 1);
    expect(await forgetReportsAndSettlements(t.tenant.id)).toBeGreaterThan(0);

    const again = await postUsage(t, "lost-b", report(reservationId));
    expect(again.status).toBe(409);
    expect(again.body).toMatchObject({
      code: "conflict",
      details: { field: "reservation_id", reservation_id: reservationId, event_id: first.body.event_id },
    });
    const view = await settledView(t, 1);
    expect(view.items).toHaveLength(1);
    expect(view.spent).toBe(BILLED);
  });
});

describe("usage worker with a reported reservation", () => {
  /**
   * Reports a reservation and lets the worker store it; then `forget` runs and the same event is queued again
   * (a retry, or a replay whose completed job BullMQ dropped). Returns the first report and what the tenant
   * sees once the worker is done with the copy.
   */
  async function requeuedAfter(idempotencyKey: string, forget: (t: TenantFixture) => Promise<unknown>) {
    const t = await newTenant();
    const reservationId = await reserve(t);
    const first = await postUsage(t, idempotencyKey, report(reservationId));
    expect(first.status).toBe(202);
    await settledView(t, 1);
    const [event] = await queuedEvents(t.tenant.id);
    expect(event).toMatchObject({ event_id: first.body.event_id, reservation_id: reservationId });
    await forget(t);
    await h.deps.usageQueue.addBulk(usageJobs(event ? [event] : []));
    const view = await eventually(async () => {
      const jobs = await queuedEvents(t.tenant.id);
      return jobs.length === 2 && (await drained()) ? settledView(t, 1) : undefined;
    }, "the requeued event processed");
    const counters = await readPeriodCounters(h.redisDb.redis, t.tenant.id, period);
    return { eventId: first.body.event_id, view, counters };
  }

  it("does not charge a retried API event again after the router's settled-id retention passed", async () => {
    // The row write failed (here: the row is removed) and the job is retried after more than the 15
    // minutes for which admission remembers router settlements (here: their buckets are removed).
    const { eventId, view, counters } = await requeuedAfter("retried-a", async (t) => {
      const logs = h.db.forTenant(t.tenant.id).collection("usage_logs");
      for (const row of await logs.listAll({})) await logs.delete(row.id);
      const bucket = Math.floor(Date.now() / h.deps.admission.settledRetentionMs);
      const prefix = admissionKeys.prefix(t.tenant.id);
      await h.redisDb.redis.del(`${prefix}settled:${bucket}`, `${prefix}settled:${bucket - 1}`);
    });
    expect(view.items).toEqual([expect.objectContaining({ event_id: eventId })]);
    expect(view.spent).toBe(BILLED);
    expect(counters.tenant).toEqual({ spent: BILLED, reserved: 0 });
  });

  it("neither charges nor stores an event again once its row is stored, after admission forgot the settlement", async () => {
    // Admission remembers a settled reservation for 15-30 minutes; past that (here: forgotten at once), the
    // same event queued again must not be settled again.
    const { eventId, view, counters } = await requeuedAfter("requeued-a", (t) =>
      forgetReportsAndSettlements(t.tenant.id),
    );
    expect(view.items).toEqual([expect.objectContaining({ event_id: eventId })]);
    expect(view.summaryBilled).toBe(BILLED);
    expect(view.spent).toBe(BILLED);
    expect(counters.tenant).toEqual({ spent: BILLED, reserved: 0 });
    expect((await worker.flushedLogs()).filter((line) => line.msg === "queue job failed")).toEqual([]);
  });
});

describe("router calls published unsettled (their router could not reach Redis before it stopped)", () => {
  /** A router call's event as the router publishes it when it could not settle it: `settlement` set. */
  async function unsettledCall(t: TenantFixture, held: boolean): Promise<UsageEvent> {
    const reservation = await h.deps.admission.reserve({
      reservationId: newId("reservation"),
      tenantId: t.tenant.id,
      keyId: t.billingKey.row.id,
      userId: null,
      period,
      cost: { micros: 1_000, tokens: 10 },
      limits: NO_LIMITS,
      ttlMs: 600_000,
    });
    return usageEvent(t.tenant, t.billingKey.row, {
      reservation_id: reservation.id,
      billed_micros: 700,
      cost_micros: 600,
      settlement: { hold: held ? reservation.hold : null },
    });
  }

  it("are settled by the worker: the hold released and the cost charged, once, also when delivered again", async () => {
    const t = await newTenant();
    const event = await unsettledCall(t, true);
    expect((await readPeriodCounters(h.redisDb.redis, t.tenant.id, period)).tenant.reserved).toBe(1_000);
    await h.deps.usageQueue.addBulk(usageJobs([event]));
    const view = await settledView(t, 1);
    expect(view.spent).toBe(700);
    expect(view.reserved).toBe(0);
    // Delivered again after admission forgot the settlement: its stored row keeps it from a second charge.
    await forgetReportsAndSettlements(t.tenant.id);
    await h.deps.usageQueue.addBulk(usageJobs([event]));
    await eventually(
      async () => ((await queuedEvents(t.tenant.id)).length === 2 && (await drained()) ? true : undefined),
      "the event delivered again processed",
    );
    expect((await readPeriodCounters(h.redisDb.redis, t.tenant.id, period)).tenant).toEqual({
      spent: 700,
      reserved: 0,
    });
    expect((await settledView(t, 1)).items).toHaveLength(1);
  });

  it("are charged by their reservation id when they had no hold (admitted unchecked, fail-open)", async () => {
    const t = await newTenant();
    const event = await unsettledCall(t, false);
    await h.deps.usageQueue.addBulk(usageJobs([event]));
    const view = await settledView(t, 1);
    // Charged once; the hold it had is the reaper's to release (the event did not name it).
    expect(view.spent).toBe(700);
  });
});

describe("a reservation reported after its period ended", () => {
  it("is logged in the period it was held in, where its settlement charges it", async () => {
    const t = await newTenant();
    // Held just before midnight of the last day of the previous period; reported now.
    const last = previousPeriod(period);
    const reservation = await h.deps.admission.reserve({
      reservationId: newId("reservation"),
      tenantId: t.tenant.id,
      keyId: t.billingKey.row.id,
      userId: t.billingKey.row.user || null,
      period: last,
      cost: { micros: 1_000, tokens: 300 },
      limits: NO_LIMITS,
      ttlMs: 600_000,
    });
    await rememberHold(h.redisDb.redis, t.tenant.id, reservation.id, reservation.hold ?? "", 600_000);
    const res = await postUsage(t, "late-report", report(reservation.id));
    expect(res.status).toBe(202);
    expect(res.body.period).toBe(last);
    await eventually(async () => ((await drained()) ? true : undefined), "the report processed");
    expect((await readPeriodCounters(h.redisDb.redis, t.tenant.id, last)).tenant).toEqual({
      spent: BILLED,
      reserved: 0,
    });
    const rows = await h.db.forTenant(t.tenant.id).collection("usage_logs").listAll({});
    expect(rows.map((row) => row.period)).toEqual([last]);
  });
});
