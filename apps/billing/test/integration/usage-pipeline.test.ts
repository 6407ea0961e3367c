import type { UsageEvent } from "@cloudfreedom/shared";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { eventually, type TenantFixture, tenantFixture, usageEvent } from "./fixtures.ts";
import { type PipelineStack, startPipelineStack } from "./pipeline-stack.ts";

let stack: PipelineStack;
let t: TenantFixture;

beforeAll(async () => {
  stack = await startPipelineStack();
  t = await tenantFixture({ db: stack.db, redis: stack.redisDb.redis });
});
afterAll(() => stack?.stop());

const sum = (events: UsageEvent[]) => events.reduce((total, event) => total + event.billed_micros, 0);

async function snapshotOf(tenantId: string, period: string) {
  const rows = await stack.db
    .forTenant(tenantId)
    .collection("budgets")
    .listAll({ filter: "period = {:p}", params: { p: period } });
  return Object.fromEntries(rows.map((row) => [`${row.scope_type}:${row.scope_id}`, row.spent_micros]));
}

describe("usage pipeline (billing worker process)", () => {
  it("stores each event once, ignores duplicates, snapshots the spend and forwards to analytics", async () => {
    const worker = await stack.startWorker();
    const events = Array.from({ length: 300 }, (_, i) =>
      usageEvent(t.tenant, i % 2 ? t.billingKey.row : t.chatKey.row, { billed_micros: 100 + i }),
    );
    await stack.usage.addBulk(events.map((payload) => ({ payload, jobId: payload.event_id })));
    // The same events again as other jobs (a producer retry that lost the first ack, a second router flush).
    await stack.usage.addBulk(
      events.slice(0, 50).map((payload) => ({ payload, jobId: `${payload.event_id}-again` })),
    );

    const stored = await eventually(async () => {
      if (!(await stack.drained())) return undefined;
      const ids = await stack.storedEventIds(t.tenant.id);
      return ids.length >= 300 ? ids : undefined;
    }, "every event stored and the queue drained");
    expect(stored.length).toBe(300);
    expect(new Set(stored)).toEqual(new Set(events.map((e) => e.event_id)));

    const period = events[0]?.period ?? "";
    const expected = {
      [`tenant:${t.tenant.id}`]: sum(events),
      [`user:${t.owner.id}`]: sum(events.filter((_, i) => i % 2)),
      [`key:${t.billingKey.row.id}`]: sum(events.filter((_, i) => i % 2)),
      [`key:${t.chatKey.row.id}`]: sum(events.filter((_, i) => i % 2 === 0)),
    };
    await eventually(async () => {
      const snapshot = await snapshotOf(t.tenant.id, period);
      return JSON.stringify(snapshot) === JSON.stringify({ ...snapshot, ...expected }) ? snapshot : undefined;
    }, "the budgets snapshot");
    expect(await snapshotOf(t.tenant.id, period)).toEqual(expected);

    const forwarded = await stack.analyticsEventIds();
    expect(new Set(forwarded)).toEqual(new Set(events.map((e) => e.event_id)));
    expect(worker.logs().filter((line) => line.msg === "queue job failed")).toEqual([]);
    await worker.stop("SIGTERM");
  });

  it("fails an event of an unknown tenant alone, for inspection, and stores the rest of its batch", async () => {
    const worker = await stack.startWorker();
    const good = usageEvent(t.tenant, t.billingKey.row);
    const orphan = { ...usageEvent(t.tenant, null), tenant_id: "tnt_doesnotexist0000" };
    await stack.usage.addBulk([good, orphan].map((payload) => ({ payload, jobId: payload.event_id })));
    const failure = await worker.waitForLog(
      (line) => line.msg === "queue job failed" && line.job_id === orphan.event_id,
      30_000,
    );
    expect(failure).toMatchObject({ final: true, queue: "usage" });
    await eventually(
      async () => ((await stack.storedEventIds(t.tenant.id)).includes(good.event_id) ? true : undefined),
      "the good event",
    );
    await worker.stop("SIGTERM");
  });
});
