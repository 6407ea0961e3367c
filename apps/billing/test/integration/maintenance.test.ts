import { NO_LIMITS, readPeriodCounters } from "@cloudfreedom/admission";
import { createProducer } from "@cloudfreedom/queue";
import { newId, periodEnd, periodOf } from "@cloudfreedom/shared";
import { createPlan } from "@cloudfreedom/testing";
import type Stripe from "stripe";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runMaintenanceJob } from "../../src/jobs/maintenance.ts";
import { refreshDirtySnapshots, refreshSnapshot } from "../../src/services/budgets/refresh-snapshots.ts";
import { rolloverPeriods } from "../../src/services/budgets/rollover-periods.ts";
import { SNAPSHOT_DIRTY_KEY, snapshotLockKey } from "../../src/services/budgets/snapshot-queue.ts";
import { type MeterClient, syncStripeMeter } from "../../src/services/stripe/sync-meter.ts";
import { persistUsageBatch } from "../../src/services/usage/persist-usage-batch.ts";
import { type TenantFixture, tenantFixture, usageEvent } from "./fixtures.ts";
import { type BillingHarness, startBilling } from "./harness.ts";

let h: BillingHarness;
let t: TenantFixture;
const period = periodOf(new Date());

async function store(billed: number[], who: TenantFixture = t): Promise<void> {
  const analytics = createProducer("analytics", { connection: h.runtime.queueRedis() });
  const events = billed.map((micros) =>
    usageEvent(who.tenant, who.billingKey.row, { billed_micros: micros }),
  );
  const errors = await persistUsageBatch(
    {
      client: h.runtime.db,
      redis: h.redisDb.redis,
      analytics,
      settle: (b, o) => h.deps.admission.settle(b, o),
    },
    events,
  );
  await analytics.close();
  expect(errors.every((error) => error === null)).toBe(true);
}

/** The real (stripe-mock) client, recording what is sent; `failAfter` simulates a lost response. */
function recordingClient(
  sent: Stripe.Billing.MeterEventCreateParams[],
  options: { failAfter?: boolean } = {},
): MeterClient {
  const stripe = h.deps.stripe;
  if (!stripe) throw new Error("stripe-mock is not configured");
  return {
    billing: {
      meterEvents: {
        create: async (params) => {
          sent.push(params);
          const result = await stripe.billing.meterEvents.create(params);
          if (options.failAfter) throw new Error("connection reset after Stripe accepted the event");
          return result;
        },
      },
    },
  };
}

/** A tenant with a Stripe customer, on a plan including `includedMicros`. */
async function stripeCustomer(includedMicros: number): Promise<TenantFixture> {
  const who = await tenantFixture(
    { db: h.db, redis: h.redisDb.redis },
    { monthly_budget_micros: includedMicros },
  );
  await h.db.operator
    .collection("tenants")
    .update(who.tenant.id, { stripe_customer_id: `cus_${who.tenant.id}` });
  return who;
}

/** Moves `who` to a new plan including `includedMicros`. */
async function movePlan(who: TenantFixture, includedMicros: number): Promise<void> {
  const plan = await createPlan(
    { db: h.db, redis: h.redisDb.redis },
    { monthly_budget_micros: includedMicros },
  );
  await h.db.operator.collection("tenants").update(who.tenant.id, { plan: plan.id });
}

/** Meter events sent, and those of `who`. */
function meterEventsOf(who: TenantFixture) {
  const sent: Stripe.Billing.MeterEventCreateParams[] = [];
  return { sent, mine: () => sent.filter((params) => params.identifier?.includes(who.tenant.id)) };
}

beforeAll(async () => {
  h = await startBilling({ stripe: true });
  t = await tenantFixture({ db: h.db, redis: h.redisDb.redis }, { monthly_budget_micros: 1_000_000 });
  await h.db.operator.collection("tenants").update(t.tenant.id, { stripe_customer_id: `cus_${t.tenant.id}` });
  await store([2_000_000, 1_500_000]);
});
afterAll(() => h?.stop());

describe("stripe_meter_sync", () => {
  const tenantBudget = () =>
    h.db
      .forTenant(t.tenant.id)
      .collection("budgets")
      .getFirst({ filter: "scope_type = 'tenant' && period = {:p}", params: { p: period } });

  it("reports the spend above the included budget as one meter event per tenant and period, once", async () => {
    const sent: Stripe.Billing.MeterEventCreateParams[] = [];
    const report = await syncStripeMeter({ ...h.deps, stripe: recordingClient(sent) });
    // €3.50 spent, €1 included: €2.50 overage = 250 cent units.
    expect(report).toEqual({ tenants: 1, batches: 1, units: 250 });
    expect(sent).toEqual([
      expect.objectContaining({
        event_name: "cloudfreedom_ai_overage",
        identifier: `cf-${t.tenant.id}-${period}-0`,
        payload: { stripe_customer_id: `cus_${t.tenant.id}`, value: "250" },
      }),
    ]);
    expect(await tenantBudget()).toMatchObject({
      metered_units: 250,
      meter_batches: 1,
      meter_pending_units: 0,
    });
    expect(await syncStripeMeter({ ...h.deps, stripe: recordingClient(sent) })).toEqual({
      tenants: 1,
      batches: 0,
      units: 0,
    });
    expect(sent).toHaveLength(1);
  });

  it("re-sends a batch whose answer was lost with the same identifier and value, and counts it once", async () => {
    await store([55_000]);
    const sent: Stripe.Billing.MeterEventCreateParams[] = [];
    await syncStripeMeter({ ...h.deps, stripe: recordingClient(sent, { failAfter: true }) });
    expect(await tenantBudget()).toMatchObject({
      metered_units: 250,
      meter_batches: 1,
      meter_pending_units: 5,
    });
    await syncStripeMeter({ ...h.deps, stripe: recordingClient(sent) });
    expect(sent.map((params) => [params.identifier, params.payload.value])).toEqual([
      [`cf-${t.tenant.id}-${period}-1`, "5"],
      [`cf-${t.tenant.id}-${period}-1`, "5"],
    ]);
    expect(await tenantBudget()).toMatchObject({
      metered_units: 255,
      meter_batches: 2,
      meter_pending_units: 0,
    });
  });
});

describe("period_rollover and reservation_reaper", () => {
  it("closes an ended period with its final snapshot, once", async () => {
    const after = new Date(periodEnd(period).getTime() + 60_000);
    expect(await rolloverPeriods(h.deps, { period, now: new Date() })).toMatchObject({ closed: 0, open: 1 });
    expect(await rolloverPeriods(h.deps, { period, now: after })).toMatchObject({ closed: 1, open: 0 });
    const rows = await h.db
      .forTenant(t.tenant.id)
      .collection("budgets")
      .listAll({ filter: "period = {:p}", params: { p: period } });
    expect(rows.find((row) => row.scope_type === "tenant")).toMatchObject({
      spent_micros: 3_555_000,
      query_count: 3,
      closed_at: expect.stringMatching(/\d/),
    });
    expect(rows.find((row) => row.scope_type === "key")).toMatchObject({
      scope_id: t.billingKey.row.id,
      spent_micros: 3_555_000,
    });
    expect(await rolloverPeriods(h.deps, { period, now: after })).toMatchObject({ closed: 0 });
  });

  it("releases reservations nobody settled", async () => {
    await h.deps.admission.reserve({
      reservationId: newId("reservation"),
      tenantId: t.tenant.id,
      keyId: t.billingKey.row.id,
      userId: null,
      period,
      cost: { micros: 777, tokens: 10 },
      limits: NO_LIMITS,
      ttlMs: 1,
    });
    expect((await readPeriodCounters(h.redisDb.redis, t.tenant.id, period)).tenant.reserved).toBe(777);
    await new Promise((resolve) => setTimeout(resolve, 20));
    const report = await runMaintenanceJob(h.deps, { kind: "reservation_reaper" });
    expect(report).toMatchObject({ reaped: 1 });
    expect((await readPeriodCounters(h.redisDb.redis, t.tenant.id, period)).tenant.reserved).toBe(0);
  });
});

describe("budget snapshots across replicas", () => {
  const tenantSnapshot = async (who: TenantFixture) =>
    (
      await h.db
        .forTenant(who.tenant.id)
        .collection("budgets")
        .getFirst({ filter: "scope_type = 'tenant' && period = {:p}", params: { p: period } })
    )?.spent_micros ?? null;

  it("one replica at a time refreshes a period; the others leave it marked, and the rollover closes it later", async () => {
    const who = await tenantFixture({ db: h.db, redis: h.redisDb.redis });
    await store([4_000, 5_000], who);
    const member = `${who.tenant.id}|${period}`;
    expect(await h.redisDb.redis.zscore(SNAPSHOT_DIRTY_KEY, member)).not.toBeNull();

    // Another replica is refreshing this period (it holds the lock): nothing is computed or cleared here.
    const lock = snapshotLockKey(who.tenant.id, period);
    await h.redisDb.redis.set(lock, "another-replica", "PX", 30_000);
    await refreshDirtySnapshots({ db: h.db, redis: h.redisDb.redis });
    expect(await h.redisDb.redis.zscore(SNAPSHOT_DIRTY_KEY, member)).not.toBeNull();
    expect(await tenantSnapshot(who)).toBeNull();
    const after = new Date(periodEnd(period).getTime() + 60_000);
    expect(await rolloverPeriods(h.deps, { period, now: after })).toMatchObject({ busy: 1 });

    // Released: the next round refreshes it and clears the mark.
    await h.redisDb.redis.del(lock);
    await refreshDirtySnapshots({ db: h.db, redis: h.redisDb.redis });
    expect(await h.redisDb.redis.zscore(SNAPSHOT_DIRTY_KEY, member)).toBeNull();
    expect(await tenantSnapshot(who)).toBe(9_000);

    // Two replicas refreshing at once: one holds the lock and writes, the other stands aside.
    const both = await Promise.all([
      refreshSnapshot({ db: h.db, redis: h.redisDb.redis }, who.tenant.id, period),
      refreshSnapshot({ db: h.db, redis: h.redisDb.redis }, who.tenant.id, period),
    ]);
    expect(both.map((locked) => locked.held).toSorted()).toEqual([false, true]);
    expect(await h.redisDb.redis.exists(lock)).toBe(0);
  });
});

describe("stripe_meter_sync after a downgrade", () => {
  it("bills as overage only what no plan of the period included: a downgrade does not turn included spend into overage", async () => {
    const pro = await stripeCustomer(5_000_000);
    await store([3_000_000], pro);
    const { sent, mine } = meterEventsOf(pro);
    await syncStripeMeter({ ...h.deps, stripe: recordingClient(sent) });
    expect(mine()).toEqual([]);
    // The tenant moves to a plan that includes €1 (its payment grace ran out): €3 spent is not €2 of overage.
    await movePlan(pro, 1_000_000);
    await syncStripeMeter({ ...h.deps, stripe: recordingClient(sent) });
    expect(mine()).toEqual([]);
    // Spend beyond what the period's best plan included is overage as before.
    await store([2_500_000], pro);
    await syncStripeMeter({ ...h.deps, stripe: recordingClient(sent) });
    expect(mine().map((params) => params.payload.value)).toEqual(["50"]);
  });
});

describe("stripe_meter_sync after the period ended", () => {
  it("bills a closed period's last overage against what its plans included, not against a plan taken after it", async () => {
    const starter = await stripeCustomer(1_000_000);
    await store([3_000_000], starter);
    const { sent, mine } = meterEventsOf(starter);
    await syncStripeMeter({ ...h.deps, stripe: recordingClient(sent) });
    expect(mine().map((params) => params.payload.value)).toEqual(["200"]);
    // More spend lands in the period before its end; the next sync runs after it, once the tenant upgraded to a
    // plan including €5: the period's €0.50 of late overage is still owed.
    await store([500_000], starter);
    await movePlan(starter, 5_000_000);
    const nextPeriod = new Date(periodEnd(period).getTime() + 3_600_000);
    await syncStripeMeter({ ...h.deps, stripe: recordingClient(sent) }, nextPeriod);
    expect(mine().map((params) => [params.identifier, params.payload.value])).toEqual([
      [`cf-${starter.tenant.id}-${period}-0`, "200"],
      [`cf-${starter.tenant.id}-${period}-1`, "50"],
    ]);
  });
});

// Last: the tenants it makes would count in the rollover tests above.
describe("stripe_meter_sync beyond active tenants", () => {
  it("still bills a suspended tenant's overage, and a closed one's while its last periods are recent", async () => {
    const ctx = { db: h.db, redis: h.redisDb.redis };
    const [suspended, closed] = await Promise.all([
      tenantFixture(ctx, { monthly_budget_micros: 1_000_000 }),
      tenantFixture(ctx, { monthly_budget_micros: 1_000_000 }),
    ]);
    for (const [who, status] of [
      [suspended, "suspended"],
      [closed, "closed"],
    ] as const) {
      await store([1_100_000], who);
      await h.db.operator
        .collection("tenants")
        .update(who.tenant.id, { status, stripe_customer_id: `cus_${who.tenant.id}` });
    }
    const sent: Stripe.Billing.MeterEventCreateParams[] = [];
    await syncStripeMeter({ ...h.deps, stripe: recordingClient(sent) });
    expect(sent.map((params) => params.payload)).toEqual(
      expect.arrayContaining(
        [suspended, closed].map((who) => ({ stripe_customer_id: `cus_${who.tenant.id}`, value: "10" })),
      ),
    );
    expect(sent).toHaveLength(2);
  });
});
