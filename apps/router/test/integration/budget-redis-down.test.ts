import type { ServiceProcess } from "@cloudfreedom/testing";
import { redisServer } from "@cloudfreedom/testing";
import type { Queue } from "bullmq";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  BUDGET_MODEL,
  billedFor,
  chat,
  counters,
  MARKUP_PCT,
  settledEvents,
  usageQueue,
  waitFor,
} from "./budget-helpers.ts";
import { type RouterStack, startRouterStack } from "./stack.ts";
import { startTcpProxy, type TcpProxy } from "./tcp-proxy.ts";

// Redis unreachable: admission fails closed (503), or with BUDGET_FAIL_OPEN=true admits and counts later.
let stack: RouterStack;
let proxy: TcpProxy;
let closedRouter: ServiceProcess;
let openRouter: ServiceProcess;
let queue: Queue;

beforeAll(async () => {
  stack = await startRouterStack({}, { models: [BUDGET_MODEL] });
  proxy = await startTcpProxy(redisServer());
  const viaProxy = new URL(stack.redisDb.url);
  viaProxy.hostname = "127.0.0.1";
  viaProxy.port = String(proxy.port);
  // Long key cache: the routers must still know the key while Redis is away. No holds taken ahead: a hold
  // prefetched before the outage is a valid admission, and this test is about the requests that need Redis.
  const env = { REDIS_URL: viaProxy.toString(), KEY_CACHE_TTL_MS: "600000", ADMISSION_PREFETCH_MAX: "0" };
  [closedRouter, openRouter] = await Promise.all([
    stack.startRouter(env),
    stack.startRouter({ ...env, BUDGET_FAIL_OPEN: "true" }),
  ]);
  queue = usageQueue(stack.redisDb.url);
});
afterAll(async () => {
  await queue?.close();
  await stack?.stop();
  await proxy?.stop();
});

describe("when Redis is unreachable", () => {
  it("fails closed with 503 admission_unavailable, or admits with BUDGET_FAIL_OPEN=true and counts it once Redis is back", async () => {
    const { key, tenantId } = await stack.newTenantKey({
      monthly_budget_micros: 1_000_000,
      markup_pct: MARKUP_PCT,
    });
    expect((await chat(closedRouter.url, key, {})).status).toBe(200);
    expect((await chat(openRouter.url, key, {})).status).toBe(200);
    await settledEvents(queue, tenantId, 2);
    const calls = stack.emulators.openai.counts.requests;

    await proxy.cut();
    const refused = await chat(closedRouter.url, key, {});
    expect(refused.status).toBe(503);
    expect(refused.envelope).toMatchObject({ code: "admission_unavailable", error: { type: "api_error" } });
    expect(refused.headers.get("retry-after")).toBe("1");
    expect(stack.emulators.openai.counts.requests).toBe(calls);

    const admitted = await chat(openRouter.url, key, {});
    expect(admitted.status).toBe(200);
    expect(stack.emulators.openai.counts.requests).toBe(calls + 1);
    await openRouter.waitForLog(
      (entry) => String(entry.msg).startsWith("BUDGET_FAIL_OPEN") && entry.level === "error",
    );

    await proxy.restore();
    const events = await settledEvents(queue, tenantId, 3);
    expect(events.every((event) => event.reservation_id?.startsWith("rsv_"))).toBe(true);
    await waitFor(
      async () =>
        (await counters(stack.redisDb.redis, tenantId)).tenant.spent === 3 * billedFor(10) ? true : undefined,
      "the fail-open call's charge",
    );
    expect(await counters(stack.redisDb.redis, tenantId)).toMatchObject({
      queries: 3,
      tenant: { spent: 3 * billedFor(10), reserved: 0 },
    });
  });
});
