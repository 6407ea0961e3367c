import type { ServiceProcess } from "@cloudfreedom/testing";
import type { Queue } from "bullmq";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  billedFor,
  chat,
  counters,
  MARKUP_PCT,
  settledEvents,
  startBudgetStack,
  stopBudgetStack,
} from "./budget-helpers.ts";
import type { RouterStack } from "./stack.ts";

// Holds taken ahead by a router process (HoldPrefetcher): used by its requests, given back when it stops.
let stack: RouterStack;
let router: ServiceProcess;
let queue: Queue;

beforeAll(async () => {
  // A horizon longer than the test: what is still held when the router stops was given back by its shutdown.
  ({ stack, router, queue } = await startBudgetStack({ ADMISSION_PREFETCH_MS: "120000" }));
});
afterAll(() => stopBudgetStack({ stack, queue }));

describe("a router far from the limits", () => {
  it("admits from holds taken ahead, settles each call exactly, and gives the rest back when it stops", async () => {
    const { key, tenantId } = await stack.newTenantKey({
      monthly_budget_micros: 10_000 * billedFor(10),
      markup_pct: MARKUP_PCT,
    });
    for (let i = 0; i < 20; i++) expect((await chat(router.url, key, {})).status).toBe(200);
    const events = await settledEvents(queue, tenantId, 20);
    const billed = events.reduce((sum, event) => sum + event.billed_micros, 0);
    expect(billed).toBe(20 * billedFor(10));
    const whileRunning = await counters(stack.redisDb.redis, tenantId);
    // Holds taken ahead and not used yet: counted as queries and held on the budget.
    expect(whileRunning.queries).toBeGreaterThan(20);
    expect(whileRunning.tenant.spent).toBe(billed);
    expect(whileRunning.tenant.reserved).toBeGreaterThan(0);

    expect(await router.stop("SIGTERM")).toBe(0);
    expect(await counters(stack.redisDb.redis, tenantId)).toMatchObject({
      queries: 20,
      tenant: { spent: billed, reserved: 0 },
    });
  });
});
