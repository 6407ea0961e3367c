import type { SettleOptions, SettleRequest } from "@cloudfreedom/admission";
import type { ModelRow } from "@cloudfreedom/db";
import { createProducer } from "@cloudfreedom/queue";
import { periodOf } from "@cloudfreedom/shared";
import { Queue } from "bullmq";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { usageEventId } from "../../src/services/usage/log-usage.ts";
import { persistUsageBatch } from "../../src/services/usage/persist-usage-batch.ts";
import { type TenantFixture, tenantFixture, testModel, usageEvent } from "./fixtures.ts";
import { type BillingHarness, startBilling } from "./harness.ts";

let h: BillingHarness;
let a: TenantFixture;
let b: TenantFixture;
let model: ModelRow;
// The stored calls all happened now: one instant, so a run that crosses midnight still finds them on one day.
const now = new Date();
const period = periodOf(now);
const today = now.toISOString().slice(0, 10);
const at = { occurred_at: now.toISOString(), period };

beforeAll(async () => {
  h = await startBilling();
  const ctx = { db: h.db, redis: h.redisDb.redis };
  [a, b, model] = await Promise.all([tenantFixture(ctx), tenantFixture(ctx), testModel(h.db)]);
  // Stored usage: tenant A has 3 calls on two models and two keys (one failed), tenant B one.
  const analytics = createProducer("analytics", { connection: h.runtime.queueRedis() });
  const deps = {
    client: h.runtime.db,
    redis: h.redisDb.redis,
    analytics,
    settle: (x: SettleRequest[], o?: SettleOptions) => h.deps.admission.settle(x, o),
  };
  const errors = await persistUsageBatch(deps, [
    usageEvent(a.tenant, a.billingKey.row, {
      ...at,
      model: "gpt-4o-mini",
      tokens: { input: 100, cache_write: 40, cache_write_1h: 10, output: 50 },
      billed_micros: 1_200,
      cost_micros: 1_000,
    }),
    usageEvent(a.tenant, a.billingKey.row, {
      ...at,
      model: "gpt-4o-mini",
      billed_micros: 600,
      cost_micros: 500,
    }),
    usageEvent(a.tenant, a.chatKey.row, {
      ...at,
      model: "claude-haiku",
      status: "error",
      error_code: "upstream_error",
      billed_micros: 0,
      cost_micros: 0,
    }),
    usageEvent(b.tenant, b.billingKey.row, {
      ...at,
      model: "gpt-4o-mini",
      billed_micros: 99_999,
      cost_micros: 83_333,
    }),
  ]);
  await analytics.close();
  expect(errors).toEqual([null, null, null, null]);
});
afterAll(() => h?.stop());

describe("POST /v1/usage", () => {
  const report = () => ({ model: model.model_id, tokens: { input: 1_000, output: 500 }, latency_ms: 300 });

  it("queues a priced usage event for the worker, keyed by the Idempotency-Key", async () => {
    const res = await h.call("POST", "/v1/usage", {
      token: a.billingKey.secret,
      headers: { "idempotency-key": "litellm-call-1" },
      body: report(),
    });
    expect(res.status).toBe(202);
    const eventId = usageEventId(a.tenant.id, "litellm-call-1");
    expect(res.body).toEqual({
      status: "accepted",
      replayed: false,
      event_id: eventId,
      period,
      cost_micros: 2_000,
      billed_micros: 2_400,
    });
    const queue = new Queue("usage", { connection: h.runtime.queueRedis(), prefix: "cf" });
    const jobs = await queue.getJobs(["waiting", "active", "completed"]);
    await queue.close();
    const batches = jobs.filter((job) =>
      job.data.events.some((e: { event_id: string }) => e.event_id === eventId),
    );
    expect(batches).toHaveLength(1);
    expect(batches[0]?.data.events).toHaveLength(1);
    expect(batches[0]?.data.events[0]).toMatchObject({
      event_id: eventId,
      tenant_id: a.tenant.id,
      key_id: a.billingKey.row.id,
      user_id: a.owner.id,
      source: "api",
      billed_micros: 2_400,
    });
  });

  it("accepts the same report again as a replay of the same event, and refuses a different body under that key", async () => {
    const again = await h.call("POST", "/v1/usage", {
      token: a.billingKey.secret,
      headers: { "idempotency-key": "litellm-call-1" },
      body: report(),
    });
    expect(again.status).toBe(202);
    expect(again.body).toMatchObject({
      replayed: true,
      event_id: usageEventId(a.tenant.id, "litellm-call-1"),
    });
    const changed = await h.call("POST", "/v1/usage", {
      token: a.billingKey.secret,
      headers: { "idempotency-key": "litellm-call-1" },
      body: { ...report(), tokens: { input: 1, output: 1 } },
    });
    expect(changed.status).toBe(409);
    expect(changed.body).toMatchObject({ code: "conflict", details: { field: "idempotency-key" } });
  });

  it("refuses a cost whose billed amount cannot be carried with a 400, and leaves its Idempotency-Key free", async () => {
    const post = (body: Record<string, unknown>) =>
      h.call("POST", "/v1/usage", {
        token: a.billingKey.secret,
        headers: { "idempotency-key": "too-large-1" },
        body,
      });
    const huge = await post({ ...report(), cost_micros: 9_000_000_000_000_000 });
    expect(huge.status).toBe(400);
    expect(huge.body).toMatchObject({ code: "validation_failed", details: { field: "cost_micros" } });
    const fixed = await post({ ...report(), cost_micros: 9_000 });
    expect(fixed.status).toBe(202);
    expect(fixed.body).toMatchObject({ cost_micros: 9_000, billed_micros: 10_800 });
  });

  it("lets a member report usage only for themselves and their own keys; managers and billing keys for anyone of the tenant", async () => {
    const member = await h.signToken({ sub: a.member.id, tenant: a.tenant.id, role: "member" });
    const owner = await h.signToken({ sub: a.owner.id, tenant: a.tenant.id, role: "owner" });
    const post = (token: string, key: string, extra: Record<string, unknown>) =>
      h.call("POST", "/v1/usage", {
        token,
        headers: { "idempotency-key": key },
        body: { ...report(), ...extra },
      });
    const forOwner = await post(member, "m-1", { user_id: a.owner.id });
    expect(forOwner.status).toBe(403);
    expect(forOwner.body).toMatchObject({ code: "forbidden", details: { field: "user_id" } });
    const ownersKey = await post(member, "m-2", { key_id: a.billingKey.row.id });
    expect(ownersKey.status).toBe(403);
    expect(ownersKey.body).toMatchObject({ code: "forbidden", details: { field: "key_id" } });
    expect((await post(member, "m-3", {})).status).toBe(202);
    expect((await post(owner, "o-1", { user_id: a.member.id })).status).toBe(202);
    expect((await post(a.billingKey.secret, "k-1", { user_id: a.member.id })).status).toBe(202);
  });

  it("prices reported cache writes at the premium: 1.25× input for 5 minutes, 2× for 1 hour", async () => {
    const res = await h.call("POST", "/v1/usage", {
      token: a.billingKey.secret,
      headers: { "idempotency-key": "litellm-cache-write" },
      body: { ...report(), tokens: { input: 1_000, cache_write: 400, cache_write_1h: 100, output: 500 } },
    });
    expect(res.status).toBe(202);
    // 600 uncached × 1 + 300 × 1.25 + 100 × 2 + 500 output × 2 = 600 + 375 + 200 + 1,000; +20 % markup.
    expect(res.body).toMatchObject({ cost_micros: 2_175, billed_micros: 2_610 });
    const eventId = usageEventId(a.tenant.id, "litellm-cache-write");
    const queue = new Queue("usage", { connection: h.runtime.queueRedis(), prefix: "cf" });
    const jobs = await queue.getJobs(["waiting", "active", "completed"]);
    await queue.close();
    const event = jobs
      .flatMap((job) => job.data.events as Array<{ event_id: string; tokens: unknown }>)
      .find((e) => e.event_id === eventId);
    expect(event?.tokens).toEqual({
      input: 1_000,
      cached_input: 0,
      cache_write: 400,
      cache_write_1h: 100,
      output: 500,
      reasoning: 0,
    });
  });

  it("refuses cache writes beyond the input, and 1-hour writes beyond the cache writes, naming the field", async () => {
    const post = (key: string, tokens: Record<string, number>) =>
      h.call("POST", "/v1/usage", {
        token: a.billingKey.secret,
        headers: { "idempotency-key": key },
        body: { ...report(), tokens },
      });
    const tooMany = await post("cw-1", { input: 10, cache_write: 11, output: 1 });
    expect(tooMany.status).toBe(400);
    expect(tooMany.body).toMatchObject({ details: { field: "tokens.cache_write" } });
    // Reads and writes are both parts of the input: 6 + 10 of 10 cannot be.
    const withReads = await post("cw-3", { input: 10, cached_input: 6, cache_write: 10, output: 1 });
    expect(withReads.status).toBe(400);
    expect(withReads.body).toMatchObject({ details: { field: "tokens.cache_write" } });
    const oneHour = await post("cw-2", { input: 10, cache_write: 2, cache_write_1h: 3, output: 1 });
    expect(oneHour.status).toBe(400);
    expect(oneHour.body).toMatchObject({ details: { field: "tokens.cache_write_1h" } });
  });

  it("requires the Idempotency-Key header and names bad fields", async () => {
    const missing = await h.call("POST", "/v1/usage", { token: a.billingKey.secret, body: report() });
    expect(missing.status).toBe(400);
    expect(missing.body).toMatchObject({ code: "validation_failed", details: { field: "idempotency-key" } });
    const bad = await h.call("POST", "/v1/usage", {
      token: a.billingKey.secret,
      headers: { "idempotency-key": "k2" },
      body: { ...report(), tokens: { input: "many", output: 1 } },
    });
    expect(bad.status).toBe(400);
    expect(bad.body).toMatchObject({ details: { field: "tokens.input" } });
  });
});

describe("POST /v1/usage occurred_at", () => {
  const report = (occurredAt: string) => ({
    model: model.model_id,
    tokens: { input: 10, output: 10 },
    occurred_at: occurredAt,
  });
  const queuedEventIds = async () => {
    const queue = new Queue("usage", { connection: h.runtime.queueRedis(), prefix: "cf" });
    const jobs = await queue.getJobs(["waiting", "active", "delayed", "completed", "failed"], 0, -1);
    await queue.close();
    return jobs.flatMap((job) => job.data.events.map((e: { event_id: string }) => e.event_id));
  };

  it("refuses a time before the previous period, which nothing would bill, naming occurred_at", async () => {
    const res = await h.call("POST", "/v1/usage", {
      token: a.billingKey.secret,
      headers: { "idempotency-key": "long-ago-1" },
      body: { model: model.model_id, tokens: { input: 5, output: 5 }, occurred_at: "2020-01-01T00:00:00Z" },
    });
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({ code: "validation_failed", details: { field: "occurred_at" } });
  });

  it("refuses a time in the future with a 400 naming occurred_at, and queues nothing", async () => {
    const res = await h.call("POST", "/v1/usage", {
      token: b.billingKey.secret,
      headers: { "idempotency-key": "future-1" },
      body: report(new Date(Date.now() + 90 * 24 * 3_600_000).toISOString()),
    });
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({
      status: "error",
      code: "validation_failed",
      message: expect.stringContaining("occurred_at: must not be in the future"),
      details: { field: "occurred_at" },
      request_id: expect.any(String),
      error: { message: expect.stringContaining("occurred_at") },
    });
    // Ten minutes ahead is more than clock skew.
    const ahead = await h.call("POST", "/v1/usage", {
      token: b.billingKey.secret,
      headers: { "idempotency-key": "future-2" },
      body: report(new Date(Date.now() + 10 * 60_000).toISOString()),
    });
    expect(ahead.status).toBe(400);
    expect(ahead.body).toMatchObject({ details: { field: "occurred_at" } });
    const queued = await queuedEventIds();
    expect(queued).not.toContain(usageEventId(b.tenant.id, "future-1"));
    expect(queued).not.toContain(usageEventId(b.tenant.id, "future-2"));

    // The refused report claimed nothing: its key reports a valid time as a new event.
    const past = new Date(Date.now() - 3_600_000).toISOString();
    const fixed = await h.call("POST", "/v1/usage", {
      token: b.billingKey.secret,
      headers: { "idempotency-key": "future-1" },
      body: report(past),
    });
    expect(fixed.status).toBe(202);
    expect(fixed.body).toMatchObject({ replayed: false, period: periodOf(new Date(past)) });
  });

  it("accepts a time a little ahead (clock skew) as now, in the current period", async () => {
    const res = await h.call("POST", "/v1/usage", {
      token: b.billingKey.secret,
      headers: { "idempotency-key": "skewed-1" },
      body: report(new Date(Date.now() + 2 * 60_000).toISOString()),
    });
    expect(res.status).toBe(202);
    expect(res.body).toMatchObject({ replayed: false, period });
    const queue = new Queue("usage", { connection: h.runtime.queueRedis(), prefix: "cf" });
    const job = await queue.getJob(`job_${String(res.body.event_id).slice("evt_".length)}`);
    await queue.close();
    expect(Date.parse(job?.data.events[0]?.occurred_at)).toBeLessThanOrEqual(Date.now());
  });
});

describe("GET /v1/usage", () => {
  it("lists the tenant's usage newest first and filters by model, key and status", async () => {
    const all = await h.call("GET", "/v1/usage", { token: a.billingKey.secret });
    expect(all.status).toBe(200);
    expect(all.body).toMatchObject({ page: 1, per_page: 50, total: 3, total_pages: 1 });
    const failed = await h.call("GET", "/v1/usage?status=error", { token: a.billingKey.secret });
    expect(failed.body.items).toEqual([
      expect.objectContaining({
        model: "claude-haiku",
        status: "error",
        error_code: "upstream_error",
        key_id: a.chatKey.row.id,
      }),
    ]);
    const byKey = await h.call(
      "GET",
      `/v1/usage?key_id=${a.billingKey.row.id}&model=gpt-4o-mini&per_page=1`,
      { token: a.billingKey.secret },
    );
    expect(byKey.body).toMatchObject({ total: 2, total_pages: 2, per_page: 1 });
    const cacheWrites = await h.call("GET", `/v1/usage?key_id=${a.billingKey.row.id}`, {
      token: a.billingKey.secret,
    });
    const listed = (cacheWrites.body as { items: Array<{ tokens: unknown }> }).items;
    expect(listed.map((item) => item.tokens)).toContainEqual({
      input: 100,
      cached_input: 0,
      cache_write: 40,
      output: 50,
      reasoning: 0,
    });
    const future = await h.call(
      "GET",
      `/v1/usage?from=${encodeURIComponent(new Date(Date.now() + 3_600_000).toISOString())}`,
      {
        token: a.billingKey.secret,
      },
    );
    expect(future.body).toMatchObject({ total: 0, items: [] });
  });

  it("names a bad filter", async () => {
    const res = await h.call("GET", "/v1/usage?status=exploded", { token: a.billingKey.secret });
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({ details: { field: "status" } });
  });
});

describe("GET /v1/usage/summary", () => {
  it("totals the period by model, key and day", async () => {
    const res = await h.call("GET", "/v1/usage/summary", { token: a.billingKey.secret });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      tenant_id: a.tenant.id,
      period,
      totals: {
        requests: 3,
        failed_requests: 1,
        cost_micros: 1_500,
        billed_micros: 1_800,
        input_tokens: 300,
        cache_write_tokens: 40,
        output_tokens: 150,
      },
      by_model: [
        { model: "claude-haiku", requests: 1, billed_micros: 0 },
        { model: "gpt-4o-mini", requests: 2, billed_micros: 1_800 },
      ],
      by_day: [{ day: today, requests: 3 }],
    });
    expect(res.body.by_key).toHaveLength(2);
  });

  it("exports CSV on ?format=csv and on Accept: text/csv", async () => {
    const res = await h.call("GET", "/v1/usage/summary?format=csv", { token: a.billingKey.secret });
    expect(res.headers.get("content-type")).toContain("text/csv");
    expect(res.headers.get("content-disposition")).toBe(`attachment; filename="usage-${period}.csv"`);
    const lines = res.text.trim().split("\r\n");
    expect(lines[0]).toBe(
      "period,day,model,key_id,requests,failed_requests,input_tokens,cached_input_tokens,output_tokens,cost,billed,cost_micros,billed_micros,cache_write_tokens",
    );
    expect(lines).toContain(
      `${period},${today},gpt-4o-mini,${a.billingKey.row.id},2,0,200,0,100,0.0015,0.0018,1500,1800,40`,
    );
    expect(lines).toHaveLength(3);
    const viaAccept = await h.call("GET", "/v1/usage/summary", {
      token: a.billingKey.secret,
      headers: { accept: "text/csv" },
    });
    expect(viaAccept.text).toBe(res.text);
  });
});
