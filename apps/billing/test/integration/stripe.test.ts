import type { PlanRow } from "@cloudfreedom/db";
import { createPlan, freePort, uniqueSuffix } from "@cloudfreedom/testing";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { createCheckout } from "../../src/services/stripe/create-checkout.ts";
import { expirePaymentGrace } from "../../src/services/stripe/expire-grace.ts";
import { type TenantFixture, tenantFixture } from "./fixtures.ts";
import { type BillingHarness, startBilling } from "./harness.ts";
import { deliver, invoiceObject, subscriptionObject } from "./stripe-helpers.ts";

let h: BillingHarness;
let t: TenantFixture;
let free: PlanRow;
let team: PlanRow;
let owner: string;

const tenantRow = () => h.db.operator.collection("tenants").getOne(t.tenant.id);
const keyRecord = async () => JSON.parse((await h.redisDb.redis.get(`cf:key:${t.billingKey.hash}`)) ?? "{}");
/** The tenant's audited tier changes, oldest first, as "from→to". */
const tierChanges = async () =>
  (
    await h.db
      .forTenant(t.tenant.id)
      .collection("audit_logs")
      .listAll({ filter: "action = 'tenant.tier_change'", sort: "created" })
  ).map((row) => {
    const metadata = row.metadata as { from?: string; to?: string };
    return `${metadata.from}→${metadata.to}`;
  });
const subscriptionRow = (id: string) =>
  h.db
    .forTenant(t.tenant.id)
    .collection("subscriptions")
    .getFirst({ filter: "stripe_subscription_id = {:id}", params: { id } });

beforeAll(async () => {
  h = await startBilling({ stripe: true });
  const ctx = { db: h.db, redis: h.redisDb.redis };
  // The fallback plan is found by slug `free`; one per PocketBase, made here.
  free = await createPlan(ctx, {
    slug: "free",
    tier: "free",
    monthly_budget_micros: 1_000_000,
    price_micros: 0,
  });
  team = await createPlan(ctx, {
    slug: `team-${uniqueSuffix(6)}`,
    tier: "team",
    stripe_price_id: `price_${uniqueSuffix()}`,
    grace_days: 3,
  });
  t = await tenantFixture(ctx, { tier: "starter" });
  await h.db.operator.collection("tenants").update(t.tenant.id, { plan: free.id, tier: "free" });
  owner = await h.signToken({ sub: t.owner.id, tenant: t.tenant.id, role: "owner" });
});
afterAll(() => h?.stop());

describe("Stripe checkout and portal (stripe-mock)", () => {
  it("creates a checkout session for a plan and maps the tenant to a new Stripe customer", async () => {
    const res = await h.call("POST", "/v1/billing/checkout", { token: owner, body: { plan: team.slug } });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ id: expect.stringMatching(/^cs_/) });
    expect((await tenantRow()).stripe_customer_id).toMatch(/^cus_/);
  });

  it("refuses a plan not sold through Stripe and callers who are not owners", async () => {
    const unsold = await h.call("POST", "/v1/billing/checkout", { token: owner, body: { plan: "free" } });
    expect(unsold.status).toBe(400);
    expect(unsold.body).toMatchObject({ code: "invalid_request", details: { field: "plan" } });
    const member = await h.signToken({ sub: t.member.id, tenant: t.tenant.id, role: "member" });
    expect(
      (await h.call("POST", "/v1/billing/checkout", { token: member, body: { plan: team.slug } })).status,
    ).toBe(403);
  });

  it("subscribes to the plan's metered overage price too, and maps a subscription that lists that item first to the plan", async () => {
    const ctx = { db: h.db, redis: h.redisDb.redis };
    const flat = `price_${uniqueSuffix()}`;
    const overage = `price_${uniqueSuffix()}`;
    const metered = await createPlan(ctx, {
      slug: `metered-${uniqueSuffix(6)}`,
      tier: "pro",
      stripe_price_id: flat,
      stripe_overage_price_id: overage,
    });
    const u = await tenantFixture(ctx, { tier: "free" });
    await h.db.operator.collection("tenants").update(u.tenant.id, { plan: free.id, tier: "free" });
    const stripe = h.deps.stripe;
    if (!stripe) throw new Error("stripe-mock is not configured");
    const create = vi.spyOn(stripe.checkout.sessions, "create");
    try {
      // stripe-mock validates the parameters against Stripe's API: a metered item takes no quantity.
      const session = await createCheckout(h.deps, { tenantId: u.tenant.id, planSlug: metered.slug });
      expect(session.id).toMatch(/^cs_/);
      expect(create.mock.calls[0]?.[0]).toMatchObject({
        line_items: [{ price: flat, quantity: 1 }, { price: overage }],
      });
      // A plan without one sells its flat price alone.
      await createCheckout(h.deps, { tenantId: u.tenant.id, planSlug: team.slug });
      expect(create.mock.calls[1]?.[0]?.line_items).toEqual([{ price: team.stripe_price_id, quantity: 1 }]);
    } finally {
      create.mockRestore();
    }

    const sub = `sub_${uniqueSuffix()}`;
    const customer = (await h.db.operator.collection("tenants").getOne(u.tenant.id)).stripe_customer_id;
    const object = subscriptionObject({
      id: sub,
      customer,
      price: flat,
      overagePrice: overage,
      status: "active",
      tenantId: u.tenant.id,
    });
    expect((await deliver(h, "customer.subscription.created", object)).body).toMatchObject({
      outcome: "applied",
    });
    expect(await h.db.operator.collection("tenants").getOne(u.tenant.id)).toMatchObject({
      plan: metered.id,
      tier: "pro",
    });
    expect(
      await h.db
        .forTenant(u.tenant.id)
        .collection("subscriptions")
        .getFirst({ filter: "stripe_subscription_id = {:id}", params: { id: sub } }),
    ).toMatchObject({ plan: metered.id, stripe_price_id: flat });
  });

  it("opens the customer portal for the tenant's customer", async () => {
    const res = await h.call("POST", "/v1/billing/portal", {
      token: owner,
      body: { return_url: "https://admin.example.test/billing" },
    });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ id: expect.stringMatching(/^bps_/), url: expect.any(String) });
  });
});

describe("Stripe webhooks", () => {
  const subId = `sub_${uniqueSuffix()}`;
  let customer = "";

  it("refuses a bad signature with 400 and changes nothing", async () => {
    customer = (await tenantRow()).stripe_customer_id;
    const object = subscriptionObject({
      id: subId,
      customer,
      price: team.stripe_price_id,
      status: "active",
      tenantId: t.tenant.id,
    });
    const forged = await deliver(h, "customer.subscription.created", object, { secret: "whsec_not_ours" });
    expect(forged.status).toBe(400);
    expect(forged.body).toMatchObject({ code: "invalid_request", details: { field: "stripe-signature" } });
    const unsigned = await h.call("POST", "/v1/stripe/webhook", { raw: "{}" });
    expect(unsigned.status).toBe(400);
    expect(await subscriptionRow(subId)).toBeNull();
    expect((await tenantRow()).plan).toBe(free.id);
    expect(
      await h.db.operator
        .collection("stripe_events")
        .listAll({ filter: "event_id = {:id}", params: { id: forged.eventId } }),
    ).toEqual([]);
  });

  it("moves the tenant to the subscribed plan and refreshes its KeyRecords at once, once per event id", async () => {
    const object = subscriptionObject({
      id: subId,
      customer,
      price: team.stripe_price_id,
      status: "active",
      tenantId: t.tenant.id,
    });
    const first = await deliver(h, "customer.subscription.created", object);
    expect(first.status).toBe(200);
    expect(first.body).toMatchObject({ received: true, duplicate: false, outcome: "applied" });
    expect(await subscriptionRow(subId)).toMatchObject({
      status: "active",
      tier: "team",
      plan: team.id,
      stripe_customer_id: customer,
    });
    expect(await tenantRow()).toMatchObject({ plan: team.id, tier: "team", stripe_subscription_id: subId });
    // The router counts budgets in the subscription's periods (anchored on the 15th), as billing does.
    expect(await keyRecord()).toMatchObject({ tier: "team", tenant_limits: { period_anchor_day: 15 } });
    expect((await h.deps.periods.current(t.tenant.id)).start.getUTCDate()).toBe(15);
    expect(await tierChanges()).toEqual(["free→team"]);

    const again = await deliver(h, "customer.subscription.created", object, { id: first.eventId });
    expect(again.body).toMatchObject({ duplicate: true });
    const older = await deliver(
      h,
      "customer.subscription.updated",
      { ...object, status: "canceled" },
      { created: 1_000 },
    );
    expect(older.body).toMatchObject({ duplicate: false, outcome: "stale" });
    expect(await tenantRow()).toMatchObject({ plan: team.id });
  });

  it("keeps the tier through the grace period after a failed payment, then downgrades to the plan's fallback", async () => {
    const failed = await deliver(h, "invoice.payment_failed", invoiceObject(subId, customer));
    expect(failed.body).toMatchObject({ outcome: "applied" });
    const pastDue = await subscriptionRow(subId);
    expect(pastDue).toMatchObject({ status: "past_due", grace_until: expect.stringMatching(/\d/) });
    const graceEnds = Date.parse((pastDue?.grace_until ?? "").replace(" ", "T"));
    expect(Math.round((graceEnds - Date.now()) / 86_400_000)).toBe(3);
    expect(await keyRecord()).toMatchObject({ tier: "team" });

    expect(await expirePaymentGrace(h.deps)).toBe(0);
    // Three days pass.
    await h.db
      .forTenant(t.tenant.id)
      .collection("subscriptions")
      .update(pastDue?.id ?? "", { grace_until: new Date(Date.now() - 60_000).toISOString() });
    expect(await expirePaymentGrace(h.deps)).toBe(1);
    expect(await tenantRow()).toMatchObject({ plan: free.id, tier: "free" });
    expect(await keyRecord()).toMatchObject({ tier: "free" });
  });

  it("restores the plan when the invoice is paid and the subscription is active again", async () => {
    await deliver(h, "invoice.paid", invoiceObject(subId, customer));
    expect(await subscriptionRow(subId)).toMatchObject({ status: "active", grace_until: "" });
    const object = subscriptionObject({
      id: subId,
      customer,
      price: team.stripe_price_id,
      status: "active",
      tenantId: t.tenant.id,
    });
    await deliver(h, "customer.subscription.updated", object);
    expect(await tenantRow()).toMatchObject({ plan: team.id, tier: "team" });
  });

  it("downgrades when the subscription is deleted", async () => {
    const object = subscriptionObject({
      id: subId,
      customer,
      price: team.stripe_price_id,
      status: "canceled",
      tenantId: t.tenant.id,
    });
    const res = await deliver(h, "customer.subscription.deleted", object);
    expect(res.body).toMatchObject({ outcome: "applied" });
    expect(await tenantRow()).toMatchObject({ plan: free.id, tier: "free", stripe_subscription_id: "" });
    expect(await keyRecord()).toMatchObject({ tier: "free" });
    // Every change of tier so far (grace ran out, paid again, deleted) is in the tenant's audit log.
    expect(await tierChanges()).toEqual(["free→team", "team→free", "free→team", "team→free"]);
    // No live subscription left: calendar months again.
    expect((await keyRecord()).tenant_limits).not.toHaveProperty("period_anchor_day");
  });

  it("applies a completed checkout before the subscription's own events arrive", async () => {
    const next = `sub_${uniqueSuffix()}`;
    const res = await deliver(h, "checkout.session.completed", {
      id: `cs_${uniqueSuffix()}`,
      object: "checkout.session",
      mode: "subscription",
      client_reference_id: t.tenant.id,
      customer,
      subscription: next,
      metadata: { tenant_id: t.tenant.id, plan: team.slug },
    });
    expect(res.body).toMatchObject({ outcome: "applied" });
    expect(await subscriptionRow(next)).toMatchObject({ status: "active", tier: "team" });
    expect(await tenantRow()).toMatchObject({ plan: team.id, tier: "team", stripe_subscription_id: next });
  });

  it("records and ignores event types it does not handle", async () => {
    const res = await deliver(h, "customer.created", { id: "cus_x", object: "customer" });
    expect(res.body).toMatchObject({ outcome: "ignored", duplicate: false });
  });
});

describe("Stripe events out of order, and a second subscription", () => {
  const now = () => Math.floor(Date.now() / 1000);

  /** A tenant on the free plan with a Stripe customer, and its team subscription as Stripe sends it. */
  async function subscriber() {
    const who = await tenantFixture({ db: h.db, redis: h.redisDb.redis }, { tier: "free" });
    await h.db.operator.collection("tenants").update(who.tenant.id, { plan: free.id, tier: "free" });
    const id = `sub_${uniqueSuffix()}`;
    const customer = `cus_${uniqueSuffix()}`;
    const object = (status: string, sub = id) =>
      subscriptionObject({ id: sub, customer, price: team.stripe_price_id, status, tenantId: who.tenant.id });
    const tenant = () => h.db.operator.collection("tenants").getOne(who.tenant.id);
    return { who, id, customer, object, tenant };
  }
  type Subscriber = Awaited<ReturnType<typeof subscriber>>;

  /** A second active subscription of the tenant, to a new `pro` plan, made in Stripe's dashboard: mirrored. */
  async function secondSubscription(s: Subscriber, created: number, plan: Partial<PlanRow> = {}) {
    const id = `sub_${uniqueSuffix()}`;
    const pro = await createPlan(
      { db: h.db, redis: h.redisDb.redis },
      { slug: `pro-${uniqueSuffix(6)}`, tier: "pro", stripe_price_id: `price_${uniqueSuffix()}`, ...plan },
    );
    const object = subscriptionObject({
      id,
      customer: s.customer,
      price: pro.stripe_price_id,
      status: "active",
      tenantId: s.who.tenant.id,
    });
    await deliver(h, "customer.subscription.created", object, { created });
    return { id, pro };
  }

  /** The payment grace of the tenant's past-due subscription ran out a minute ago. */
  async function graceRanOut(s: Subscriber) {
    const subscriptions = h.db.forTenant(s.who.tenant.id).collection("subscriptions");
    const row = await subscriptions.getFirst({
      filter: "stripe_subscription_id = {:id}",
      params: { id: s.id },
    });
    expect(row).toMatchObject({ status: "past_due" });
    await subscriptions.update(row?.id ?? "", { grace_until: new Date(Date.now() - 60_000).toISOString() });
  }

  it("a payment failure delivered after the retry was paid changes nothing: the paying tenant is not downgraded", async () => {
    const s = await subscriber();
    const T = now();
    await deliver(h, "customer.subscription.created", s.object("active"), { created: T });
    // The renewal failed at T+10 and the retry was paid at T+20; Stripe delivers the failure last.
    await deliver(h, "customer.subscription.updated", s.object("active"), { created: T + 20 });
    await deliver(h, "invoice.paid", invoiceObject(s.id, s.customer), { created: T + 20 });
    const late = await deliver(h, "invoice.payment_failed", invoiceObject(s.id, s.customer), {
      created: T + 10,
    });
    expect(late.body).toMatchObject({ outcome: "stale" });
    expect(await expirePaymentGrace(h.deps, new Date(Date.now() + 10 * 86_400_000))).toBe(0);
    expect(await s.tenant()).toMatchObject({ plan: team.id, tier: "team" });
    // And the other way round: an old invoice.paid after a newer failure does not clear its grace.
    await deliver(h, "invoice.payment_failed", invoiceObject(s.id, s.customer), { created: T + 40 });
    const old = await deliver(h, "invoice.paid", invoiceObject(s.id, s.customer), { created: T + 30 });
    expect(old.body).toMatchObject({ outcome: "stale" });
  });

  it("a payment failure delivered after its own past_due update still starts the grace", async () => {
    const s = await subscriber();
    const T = now();
    await deliver(h, "customer.subscription.created", s.object("active"), { created: T - 100 });
    await deliver(h, "customer.subscription.updated", s.object("past_due"), { created: T + 1 });
    const failed = await deliver(h, "invoice.payment_failed", invoiceObject(s.id, s.customer), {
      created: T,
    });
    expect(failed.body).toMatchObject({ outcome: "applied" });
    const row = await h.db
      .forTenant(s.who.tenant.id)
      .collection("subscriptions")
      .getFirst({ filter: "stripe_subscription_id = {:id}", params: { id: s.id } });
    expect(row).toMatchObject({ status: "past_due", grace_until: expect.stringMatching(/\d/) });
  });

  it("a checkout delivered after its subscription was cancelled does not grant the plan again", async () => {
    const s = await subscriber();
    const T = now();
    await deliver(h, "customer.subscription.created", s.object("active"), { created: T });
    await deliver(h, "customer.subscription.deleted", s.object("canceled"), { created: T + 100 });
    await deliver(
      h,
      "checkout.session.completed",
      {
        id: `cs_${uniqueSuffix()}`,
        object: "checkout.session",
        mode: "subscription",
        client_reference_id: s.who.tenant.id,
        customer: s.customer,
        subscription: s.id,
        metadata: { tenant_id: s.who.tenant.id, plan: team.slug },
      },
      { created: T },
    );
    expect(await s.tenant()).toMatchObject({ plan: free.id, tier: "free", stripe_subscription_id: "" });
  });

  it("an update of the same second as the deletion does not bring the cancelled subscription back", async () => {
    const s = await subscriber();
    const T = now();
    await deliver(h, "customer.subscription.created", s.object("active"), { created: T - 10 });
    await deliver(h, "customer.subscription.deleted", s.object("canceled"), { created: T });
    const same = await deliver(h, "customer.subscription.updated", s.object("active"), { created: T });
    expect(same.body).toMatchObject({ outcome: "stale" });
    expect(await s.tenant()).toMatchObject({ plan: free.id, stripe_subscription_id: "" });
  });

  it("sells no second subscription, and one made elsewhere takes over only when the current one ends", async () => {
    const s = await subscriber();
    const T = now();
    await deliver(h, "customer.subscription.created", s.object("active"), { created: T });
    const token = await h.signToken({ sub: s.who.owner.id, tenant: s.who.tenant.id, role: "owner" });
    const second = await h.call("POST", "/v1/billing/checkout", { token, body: { plan: team.slug } });
    expect(second.status).toBe(409);
    expect(second.body).toMatchObject({ code: "conflict", details: { subscription: s.id } });
    // A second subscription, of another plan, made in Stripe's dashboard: mirrored, but the current one decides.
    const { id: other, pro } = await secondSubscription(s, T + 10);
    await deliver(
      h,
      "customer.subscription.updated",
      { ...s.object("active"), cancel_at_period_end: true },
      {
        created: T + 20,
      },
    );
    expect(await s.tenant()).toMatchObject({ plan: team.id, stripe_subscription_id: s.id });
    // The current one ends: the other, still active, takes over instead of the downgrade.
    await deliver(h, "customer.subscription.deleted", s.object("canceled"), { created: T + 30 });
    expect(await s.tenant()).toMatchObject({ plan: pro.id, tier: "pro", stripe_subscription_id: other });
  });

  it("a downgrade whose key refresh failed is published by the next run, and holds back no other tenant", async () => {
    const pastDueOf = async (s: Subscriber) => {
      const T = now();
      await deliver(h, "customer.subscription.created", s.object("active"), { created: T });
      await deliver(h, "invoice.payment_failed", invoiceObject(s.id, s.customer), { created: T + 20 });
      await graceRanOut(s);
    };
    const [s, other] = [await subscriber(), await subscriber()];
    await pastDueOf(s);
    await pastDueOf(other);
    const record = async (who: typeof s) =>
      JSON.parse((await h.redisDb.redis.get(`cf:key:${who.who.billingKey.hash}`)) ?? "{}") as {
        tier?: string;
      };
    const failing = {
      ...h.deps,
      refreshTenantKeys: async (
        tenantId: string,
        previousTier?: Parameters<typeof h.deps.refreshTenantKeys>[1],
      ) => {
        if (tenantId === s.who.tenant.id) throw new Error("Redis went away");
        await h.deps.refreshTenantKeys(tenantId, previousTier);
      },
    };
    await expect(expirePaymentGrace(failing)).rejects.toThrow("Redis went away");
    expect(await s.tenant()).toMatchObject({ plan: free.id });
    expect((await record(s)).tier).toBe("team");
    // The other tenant was handled in the same run.
    expect(await other.tenant()).toMatchObject({ plan: free.id, tier: "free" });
    expect((await record(other)).tier).toBe("free");
    // The next run finds the first tenant moved and its records behind: it publishes them.
    expect(await expirePaymentGrace(h.deps)).toBe(0);
    expect((await record(s)).tier).toBe("free");
    expect(await s.tenant()).toMatchObject({ plan: free.id, tier: "free" });
  });

  it("a grace that runs out hands the tenant to its other subscription still active, not to the fallback", async () => {
    const s = await subscriber();
    const T = now();
    await deliver(h, "customer.subscription.created", s.object("active"), { created: T });
    // The customer subscribed again, to another plan, while the first was still paid: mirrored only.
    const { id: other, pro } = await secondSubscription(s, T + 10, { monthly_budget_micros: 42_000_000 });
    await deliver(h, "invoice.payment_failed", invoiceObject(s.id, s.customer), { created: T + 20 });
    expect(await s.tenant()).toMatchObject({ plan: team.id, stripe_subscription_id: s.id });

    // The first one's grace runs out: the second still grants its plan, so nothing is downgraded.
    await graceRanOut(s);
    const downgraded = await expirePaymentGrace(h.deps);
    expect(await s.tenant()).toMatchObject({ plan: pro.id, tier: "pro", stripe_subscription_id: other });
    expect(downgraded).toBe(0);
    const record = JSON.parse((await h.redisDb.redis.get(`cf:key:${s.who.billingKey.hash}`)) ?? "{}");
    expect(record).toMatchObject({ tier: "pro", tenant_limits: { budget_micros: 42_000_000 } });
    // Run again: the tenant stays where it is.
    expect(await expirePaymentGrace(h.deps)).toBe(0);
    expect(await s.tenant()).toMatchObject({ plan: pro.id, stripe_subscription_id: other });
  });
});

describe("Stripe unreachable", () => {
  it("answers checkout and portal with 503 saying Stripe could not be reached, not an opaque 500", async () => {
    const down = await startBilling({
      env: {
        STRIPE_SECRET_KEY: "sk_test_123",
        STRIPE_API_BASE: `http://127.0.0.1:${await freePort()}`,
        STRIPE_WEBHOOK_SECRET: "whsec_test",
      },
    });
    try {
      const ctx = { db: down.db, redis: down.redisDb.redis };
      const plan = await createPlan(ctx, { slug: `team-${uniqueSuffix(6)}`, stripe_price_id: "price_x" });
      const who = await tenantFixture(ctx);
      await down.db.operator.collection("tenants").update(who.tenant.id, { stripe_customer_id: "cus_x" });
      const token = await down.signToken({ sub: who.owner.id, tenant: who.tenant.id, role: "owner" });
      for (const [path, body] of [
        ["/v1/billing/checkout", { plan: plan.slug }],
        ["/v1/billing/portal", {}],
      ] as const) {
        const res = await down.call("POST", path, { token, body });
        expect(res.status, path).toBe(503);
        expect(res.body).toMatchObject({
          code: "service_unavailable",
          message: expect.stringContaining("Stripe could not be reached"),
          details: { provider: "stripe" },
        });
      }
    } finally {
      await down.stop();
    }
  });
});
