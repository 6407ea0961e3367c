import type { UsageEvent } from "@cloudfreedom/shared";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { eventually, type TenantFixture, tenantFixture, usageEvent, usageJobs } from "./fixtures.ts";
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
    await stack.usage.addBulk(usageJobs(events));
    // The same events again in other batches (a producer retry that lost the first ack, a second router flush).
    await stack.usage.addBulk(usageJobs(events.slice(0, 50), 7));

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
    expect((await worker.flushedLogs()).filter((line) => line.msg === "queue job failed")).toEqual([]);
    await worker.stop("SIGTERM");
  });

  it("stores the rest of a batch holding an event of an unknown tenant, and keeps that batch for inspection", async () => {
    const worker = await stack.startWorker();
    const good = usageEvent(t.tenant, t.billingKey.row);
    const orphan = { ...usageEvent(t.tenant, null), tenant_id: "tnt_doesnotexist0000" };
    const [job] = usageJobs([good, orphan]);
    await stack.usage.addBulk(job ? [job] : []);
    const failure = await worker.waitForLog(
      (line) => line.msg === "queue job failed" && line.job_id === job?.jobId,
      30_000,
    );
    // Final at once: a retry cannot make the tenant exist. The reason names the event.
    expect(failure).toMatchObject({ final: true, queue: "usage" });
    expect((failure.err as { message?: string } | undefined)?.message).toContain(orphan.event_id);
    await eventually(
      async () => ((await stack.storedEventIds(t.tenant.id)).includes(good.event_id) ? true : undefined),
      "the good event",
    );
    await worker.stop("SIGTERM");
  });
});
