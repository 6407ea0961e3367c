import { Admission, emptyTotals, reapReservations, settlementOf } from "@cloudfreedom/admission";
import { createLogger } from "@cloudfreedom/service-kit";
import type { Queue } from "bullmq";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import {
  BUDGET_MODEL,
  billedFor,
  chat,
  counters,
  LONG_PROMPT,
  MARKUP_PCT,
  settledEvents,
  usageEvents,
  usageQueue,
  waitFor,
} from "./budget-helpers.ts";
import { type RouterStack, startRouterStack } from "./stack.ts";

// Query limits, partial streams, idempotent settlement and reaping, end to end through the router.
let stack: RouterStack;
let queue: Queue;

beforeAll(async () => {
  // These tests look at one request's own hold in Redis: no holds taken ahead (prefetch.test.ts covers those).
  stack = await startRouterStack({ ADMISSION_PREFETCH_MAX: "0" }, { models: [BUDGET_MODEL] });
  queue = usageQueue(stack.redisDb.url);
});
afterAll(async () => {
  await queue?.close();
  await stack?.stop();
});
beforeEach(() => {
  for (const emulator of Object.values(stack.emulators)) emulator.reset();
});

const providerCalls = () => stack.emulators.openai.counts.requests;

/** A streamed chat of the long prompt, up to 150 output tokens (the hold is `billedFor(150)`). */
function streamLongPrompt(url: string, key: string, signal?: AbortSignal): Promise<Response> {
  return fetch(`${url}/v1/chat/completions`, {
    method: "POST",
    headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
    body: JSON.stringify({
      model: "budget-test",
      messages: [{ role: "user", content: LONG_PROMPT }],
      max_tokens: 150,
      stream: true,
    }),
    ...(signal ? { signal } : {}),
  });
}

describe("query limit", () => {
  it("429 query_limit_exceeded once the plan's queries are used; no provider call, no usage event", async () => {
    const { key, tenantId } = await stack.newTenantKey({ query_limit: 3 });
    for (let i = 0; i < 3; i++) expect((await chat(stack.url, key, {})).status).toBe(200);
    const denied = await chat(stack.url, key, {});
    expect(denied.status).toBe(429);
    expect(denied.envelope).toMatchObject({
      code: "query_limit_exceeded",
      details: { limit: 3, used: 3, period_end: expect.stringMatching(/T00:00:00\.000Z$/) },
      error: { type: "rate_limit_error", code: "query_limit_exceeded" },
    });
    expect(denied.headers.get("x-should-retry")).toBe("false");
    expect(providerCalls()).toBe(3);
    expect(await settledEvents(queue, tenantId, 3)).toHaveLength(3);
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(await usageEvents(queue, tenantId)).toHaveLength(3);
  });

  it("a call the provider failed gives its query back", async () => {
    const { key, tenantId } = await stack.newTenantKey({ query_limit: 1 });
    stack.emulators.openai.setDefault({ status: 400 });
    expect((await chat(stack.url, key, {})).status).toBe(400);
    await settledEvents(queue, tenantId, 1);
    stack.emulators.openai.setDefault();
    expect((await chat(stack.url, key, {})).status).toBe(200);
  });
});

describe("budget denial", () => {
  it("402 budget_exceeded with scope, limit, spent and period end, before any provider call", async () => {
    const { key } = await stack.newTenantKey({
      monthly_budget_micros: billedFor(10) * 2,
      markup_pct: MARKUP_PCT,
    });
    expect((await chat(stack.url, key, {})).status).toBe(200);
    expect((await chat(stack.url, key, {})).status).toBe(200);
    const before = providerCalls();
    const denied = await chat(stack.url, key, {});
    expect(denied.status).toBe(402);
    expect(denied.envelope).toMatchObject({
      code: "budget_exceeded",
      details: {
        scope: "tenant",
        limit: billedFor(10) * 2,
        requested: billedFor(10),
        period_end: expect.any(String),
      },
      error: { type: "insufficient_quota" },
    });
    // Until the two calls settle (one EVENT_FLUSH_MS after they answered) their holds count instead of their
    // spend; each cost its whole hold, so settling them at the refusal would not have made room.
    const { spent, reserved } = denied.envelope?.details ?? {};
    expect(Number(spent) + Number(reserved)).toBe(billedFor(10) * 2);
    expect(providerCalls()).toBe(before);
  });

  it("a key's own budget is enforced below the tenant's", async () => {
    const { key } = await stack.newTenantKey(
      { monthly_budget_micros: 1_000_000 },
      { limits: { budget_micros: billedFor(10) } },
    );
    expect((await chat(stack.url, key, {})).status).toBe(200);
    expect((await chat(stack.url, key, {})).envelope).toMatchObject({
      code: "budget_exceeded",
      details: { scope: "key" },
    });
  });
});

describe("settlement", () => {
  it("a stream the client cuts settles its partial cost and releases the rest of the hold", async () => {
    const { key, tenantId } = await stack.newTenantKey({
      monthly_budget_micros: 1_000_000,
      markup_pct: MARKUP_PCT,
    });
    stack.emulators.openai.enqueue({ chunkDelayMs: 30 });
    const client = new AbortController();
    const res = await streamLongPrompt(stack.url, key, client.signal);
    expect(res.status).toBe(200);
    const reader = res.body?.getReader();
    let text = "";
    while (reader && (text.match(/"content":"[^"]/g) ?? []).length < 3)
      text += new TextDecoder().decode((await reader.read()).value);
    expect((await counters(stack.redisDb.redis, tenantId)).tenant.reserved).toBe(billedFor(150));
    client.abort();
    const [event] = await settledEvents(queue, tenantId, 1);
    expect(event).toMatchObject({ status: "cancelled", error_code: "client_disconnected", stream: true });
    expect(event?.tokens.output).toBeGreaterThan(0);
    expect(event?.tokens.output).toBeLessThan(150);
    expect(event?.billed_micros).toBe(billedFor(event?.tokens.output ?? 0));
    expect((await counters(stack.redisDb.redis, tenantId)).tenant).toEqual({
      spent: event?.billed_micros,
      reserved: 0,
    });
  });

  it("a stream that outlives its hold's lifetime keeps its hold: the reaper leaves it, the end settles it", async () => {
    const { key, tenantId } = await stack.newTenantKey({
      monthly_budget_micros: 1_000_000,
      markup_pct: MARKUP_PCT,
    });
    const router = await stack.startRouter({ RESERVATION_TTL_MS: "600", ADMISSION_PREFETCH_MAX: "0" });
    try {
      stack.emulators.openai.enqueue({ chunkDelayMs: 80 });
      const res = await streamLongPrompt(router.url, key);
      expect(res.status).toBe(200);
      const reader = res.body?.getReader();
      if (!reader) throw new Error("no stream");
      let text = "";
      const started = Date.now();
      // Two lifetimes of the hold go by while the stream runs; the reaper looks for due holds meanwhile.
      while (Date.now() - started < 1_300) text += new TextDecoder().decode((await reader.read()).value);
      expect(text).not.toContain("[DONE]");
      expect(await reapReservations(stack.redisDb.redis, { tenantIds: [tenantId] })).toEqual({
        tenants: 1,
        reaped: 0,
      });
      expect((await counters(stack.redisDb.redis, tenantId)).tenant.reserved).toBe(billedFor(150));
      for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read())
        text += new TextDecoder().decode(chunk.value);
      expect(text).toContain("[DONE]");
      const [event] = await settledEvents(queue, tenantId, 1);
      expect(event).toMatchObject({ status: "success", stream: true });
      expect((await counters(stack.redisDb.redis, tenantId)).tenant).toEqual({
        spent: event?.billed_micros,
        reserved: 0,
      });
    } finally {
      await router.stop();
    }
  });

  it("settling a call again (the billing worker's confirmation) counts it once", async () => {
    const { key, tenantId } = await stack.newTenantKey({ markup_pct: MARKUP_PCT });
    expect((await chat(stack.url, key, {})).status).toBe(200);
    const [event] = await settledEvents(queue, tenantId, 1);
    if (!event) throw new Error("no usage event");
    expect(event.reservation_id).toMatch(/^rsv_/);
    const before = await counters(stack.redisDb.redis, tenantId);
    expect(before.tenant).toEqual({ spent: billedFor(10), reserved: 0 });
    const worker = new Admission({
      redis: stack.redisDb.redis,
      source: { load: async () => emptyTotals() },
      logger: createLogger("test", "silent"),
    });
    const confirm = settlementOf(event);
    expect(await worker.settle([confirm, { ...confirm, onUnknown: "charge" }])).toEqual([
      { kind: "duplicate" },
      { kind: "duplicate" },
    ]);
    expect(await counters(stack.redisDb.redis, tenantId)).toEqual(before);
  });

  it("a hold whose router died is reaped, and the budget it blocked is free again", async () => {
    const { key, tenantId } = await stack.newTenantKey({
      monthly_budget_micros: Math.floor(billedFor(10) * 1.5),
      markup_pct: MARKUP_PCT,
    });
    const doomed = await stack.startRouter({ RESERVATION_TTL_MS: "300" });
    stack.emulators.openai.enqueue({ hang: true });
    void chat(doomed.url, key, {}).catch(() => undefined);
    await waitFor(
      async () => ((await counters(stack.redisDb.redis, tenantId)).tenant.reserved > 0 ? true : undefined),
      "the hold",
    );
    await waitFor(async () => (providerCalls() > 0 ? true : undefined), "the provider call");
    await doomed.stop("SIGKILL");
    expect((await chat(stack.url, key, {})).status).toBe(402);
    await new Promise((resolve) => setTimeout(resolve, 350));
    const report = await reapReservations(stack.redisDb.redis, { tenantIds: [tenantId] });
    expect(report).toEqual({ tenants: 1, reaped: 1 });
    expect(await counters(stack.redisDb.redis, tenantId)).toMatchObject({
      queries: 0,
      tenant: { spent: 0, reserved: 0 },
    });
    expect((await chat(stack.url, key, {})).status).toBe(200);
  });
});
