import { toPbDate } from "@cloudfreedom/db";
import type { UsageEvent } from "@cloudfreedom/shared";
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

// Redis loses everything (FLUSHDB): the period's spend survives, rebuilt once from PocketBase.
let stack: RouterStack;
let second: ServiceProcess;
let queue: Queue;

beforeAll(async () => {
  ({ stack, router: second, queue } = await startBudgetStack());
});
afterAll(() => stopBudgetStack({ stack, queue }));

/** What the billing worker does with each usage event: one `usage_logs` row in PocketBase. */
async function persist(events: UsageEvent[]): Promise<void> {
  for (const event of events) {
    await stack.db
      .forTenant(event.tenant_id)
      .collection("usage_logs")
      .create({
        event_id: event.event_id,
        request_id: event.request_id,
        reservation_id: event.reservation_id ?? "",
        source: event.source,
        api_key: event.key_id ?? "",
        user: event.user_id ?? "",
        model: event.model,
        input_tokens: event.tokens.input,
        output_tokens: event.tokens.output,
        cost_micros: event.cost_micros,
        billed_micros: event.billed_micros,
        status: event.status,
        period: event.period,
        occurred_at: toPbDate(Date.parse(event.occurred_at)),
      });
  }
}

/** FLUSHDB, then put the key records back as the auth service would (it reloads them on a miss). */
async function loseRedis(): Promise<void> {
  const redis = stack.redisDb.redis;
  const keyNames = await redis.keys("cf:key:*");
  const records = keyNames.length > 0 ? await redis.mget(...keyNames) : [];
  await redis.flushdb();
  await Promise.all(keyNames.map((name, i) => redis.set(name, records[i] ?? "")));
}

const rebuilt = async (router: ServiceProcess, tenantId: string) =>
  (await router.flushedLogs()).filter(
    (entry) => entry.msg === "admission counters rebuilt from PocketBase" && entry.tenant_id === tenantId,
  ).length;

describe("counters after Redis lost its data", () => {
  it("are rebuilt from PocketBase once, across two routers, and the period's spend still counts", async () => {
    const cost = billedFor(10);
    const { key, tenantId } = await stack.newTenantKey({
      monthly_budget_micros: 10 * cost + Math.floor(cost / 2),
      markup_pct: MARKUP_PCT,
    });
    for (let i = 0; i < 6; i++) expect((await chat(stack.url, key, {})).status).toBe(200);
    await persist(await settledEvents(queue, tenantId, 6));
    const seededBefore = (await rebuilt(stack.router, tenantId)) + (await rebuilt(second, tenantId));

    await loseRedis();
    expect((await counters(stack.redisDb.redis, tenantId)).seeded).toBe(false);

    const answers = await Promise.all(
      Array.from({ length: 8 }, (_, i) => chat(i % 2 === 0 ? stack.url : second.url, key, {})),
    );
    expect(answers.filter((a) => a.status === 200)).toHaveLength(4);
    expect(answers.filter((a) => a.status === 402)).toHaveLength(4);
    expect((await rebuilt(stack.router, tenantId)) + (await rebuilt(second, tenantId)) - seededBefore).toBe(
      1,
    );

    await settledEvents(queue, tenantId, 4);
    expect(await counters(stack.redisDb.redis, tenantId)).toMatchObject({
      seeded: true,
      queries: 10,
      tenant: { spent: 10 * cost, reserved: 0 },
    });
  });
});
