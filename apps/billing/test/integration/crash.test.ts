import { queueDepth } from "@cloudfreedom/queue";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SNAPSHOT_DIRTY_KEY } from "../../src/services/budgets/snapshot-queue.ts";
import { eventually, type TenantFixture, tenantFixture, usageEvent, usageJobs } from "./fixtures.ts";
import { type PipelineStack, startPipelineStack } from "./pipeline-stack.ts";

let stack: PipelineStack;
let t: TenantFixture;

beforeAll(async () => {
  stack = await startPipelineStack({ USAGE_BATCH_SIZE: "200", USAGE_CONCURRENCY: "8" });
  t = await tenantFixture({ db: stack.db, redis: stack.redisDb.redis });
});
afterAll(() => stack?.stop());

describe("usage pipeline crash", () => {
  it("stores every event exactly once when the worker is SIGKILLed in the middle of a batch and restarted", async () => {
    // The count is polled from the worker's spawn, not from its "worker consuming" line (which reaches the
    // test up to ~150 ms after the worker took its first jobs): the kill lands right after the first batch
    // is stored, whatever the machine's speed (it stores ~25,000 events/s on a fast one).
    const events = Array.from({ length: 12_000 }, () => usageEvent(t.tenant, t.billingKey.row));
    await stack.usage.addBulk(usageJobs(events));
    const first = await stack.startWorker({}, { waitUntilUp: false });
    await eventually(
      async () => ((await stack.storedEventCount(t.tenant.id)) > 0 ? true : undefined),
      "the first batch to be stored",
      60_000,
      5,
    );
    first.child.kill("SIGKILL");
    await first.exited;
    const atCrash = (await stack.storedEventIds(t.tenant.id)).length;
    expect(atCrash).toBeLessThan(events.length);
    // Jobs were in flight when it died: they stay locked (active) until their lock expires.
    expect((await queueDepth("usage", { connection: stack.queueRedis })).active).toBeGreaterThan(0);

    const second = await stack.startWorker();
    const stored = await eventually(
      async () => {
        if (!(await stack.drained())) return undefined;
        const ids = await stack.storedEventIds(t.tenant.id);
        return ids.length >= events.length ? ids : undefined;
      },
      "every event after the restart",
      120_000,
    );
    expect(stored.length).toBe(events.length);
    expect(new Set(stored)).toEqual(new Set(events.map((event) => event.event_id)));

    const period = events[0]?.period ?? "";
    const spent = events.reduce((total, event) => total + event.billed_micros, 0);
    let seen: unknown = "no snapshot row";
    await eventually(async () => {
      const row = await stack.db
        .forTenant(t.tenant.id)
        .collection("budgets")
        .getFirst({ filter: "scope_type = 'tenant' && period = {:p}", params: { p: period } });
      seen = row?.spent_micros;
      return row?.spent_micros === spent ? row : undefined;
    }, "the snapshot to match the stored events").catch(async (error: unknown) => {
      // What the snapshot held, what is still marked stale, and what the worker said: a stale snapshot and a
      // slow refresher look the same from the outside.
      const dirty = await stack.redisDb.redis.zrange(SNAPSHOT_DIRTY_KEY, 0, -1, "WITHSCORES");
      const said = (await second.flushedLogs()).filter((line) => line.level !== "info").slice(-5);
      throw new Error(
        `${String(error)}: spent_micros ${String(seen)} against ${spent}; marked stale: ${JSON.stringify(dirty)}; worker warnings: ${JSON.stringify(said)}`,
      );
    });
    expect(
      (await second.flushedLogs()).filter((line) => line.msg === "queue job failed" && line.final === true),
    ).toEqual([]);
    await second.stop("SIGTERM");
  }, 240_000);
});
