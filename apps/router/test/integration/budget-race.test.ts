import type { ServiceProcess } from "@cloudfreedom/testing";
import type { Queue } from "bullmq";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type Answer,
  billedFor,
  chat,
  counters,
  MARKUP_PCT,
  settledEvents,
  startBudgetStack,
  stopBudgetStack,
} from "./budget-helpers.ts";
import type { RouterStack } from "./stack.ts";

// No overspend under concurrency, with one router and with two sharing Redis; rate limits hold across routers.
let stack: RouterStack;
let second: ServiceProcess;
let queue: Queue;

beforeAll(async () => {
  ({ stack, router: second, queue } = await startBudgetStack());
});
afterAll(() => stopBudgetStack({ stack, queue }));

const COST = billedFor(10);
const AFFORDABLE = 50;
/** Affords 50 calls and half of a 51st. */
const BUDGET = AFFORDABLE * COST + Math.floor(COST / 2);

async function race(urls: string[]): Promise<{ tenantId: string; answers: Answer[] }> {
  const { key, tenantId } = await stack.newTenantKey({
    monthly_budget_micros: BUDGET,
    markup_pct: MARKUP_PCT,
  });
  const answers = await Promise.all(
    Array.from({ length: 200 }, (_, i) => chat(urls[i % urls.length] ?? stack.url, key, {})),
  );
  return { tenantId, answers };
}

async function expectNoOverspend(tenantId: string, answers: Answer[]): Promise<void> {
  const ok = answers.filter((a) => a.status === 200);
  const denied = answers.filter((a) => a.status === 402);
  expect(ok.length + denied.length).toBe(200);
  expect(ok.length).toBeGreaterThanOrEqual(AFFORDABLE - 1);
  expect(ok.length).toBeLessThanOrEqual(AFFORDABLE);
  for (const answer of denied) {
    expect(answer.envelope).toMatchObject({
      code: "budget_exceeded",
      details: { scope: "tenant", limit: BUDGET },
    });
  }
  const events = await settledEvents(queue, tenantId, ok.length);
  const billed = events.reduce((sum, event) => sum + event.billed_micros, 0);
  const after = await counters(stack.redisDb.redis, tenantId);
  expect(after.tenant).toEqual({ spent: billed, reserved: 0 });
  expect(after.tenant.spent).toBeLessThanOrEqual(BUDGET);
  expect(after.queries).toBe(ok.length);
  expect(new Set(events.map((event) => event.reservation_id)).size).toBe(ok.length);
}

describe("200 concurrent calls against a budget that affords 50", () => {
  it("one router: the settled spend never exceeds the budget and 50 calls succeed", async () => {
    const { tenantId, answers } = await race([stack.url]);
    await expectNoOverspend(tenantId, answers);
  });

  it("two routers sharing Redis: the same", async () => {
    const { tenantId, answers } = await race([stack.url, second.url]);
    await expectNoOverspend(tenantId, answers);
  });
});

describe("rate limits across router instances", () => {
  it("a limit of 12 requests a minute admits 12 of 36 calls spread over two routers", async () => {
    const { key } = await stack.newTenantKey({ rpm: 12 });
    const answers = await Promise.all(
      Array.from({ length: 36 }, (_, i) => chat(i % 2 === 0 ? stack.url : second.url, key, {})),
    );
    expect(answers.filter((a) => a.status === 200)).toHaveLength(12);
    const limited = answers.filter((a) => a.status === 429);
    expect(limited).toHaveLength(24);
    for (const answer of limited) {
      expect(answer.envelope).toMatchObject({
        code: "rate_limited",
        details: { scope: "tenant", limit_type: "requests", limit: 12 },
      });
      expect(Number(answer.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
    }
  });

  it("tells an admitted caller what is left of its limit", async () => {
    const { key } = await stack.newTenantKey({ rpm: 100, monthly_budget_micros: 1_000_000 });
    const answer = await chat(stack.url, key, {});
    expect(answer.status).toBe(200);
    expect(answer.headers.get("x-ratelimit-limit-requests")).toBe("100");
    expect(answer.headers.get("x-ratelimit-remaining-requests")).toBe("99");
    expect(answer.headers.get("x-cloudfreedom-budget-remaining-micros")).toBe(String(1_000_000 - COST));
  });
});
