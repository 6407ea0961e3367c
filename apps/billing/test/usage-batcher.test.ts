import { newId, type UsageEvent, UsageEvent as UsageEventSchema } from "@cloudfreedom/shared";
import { describe, expect, it } from "vitest";
import { UsageBatcher } from "../src/jobs/usage-batcher.ts";

const event = (): UsageEvent =>
  UsageEventSchema.parse({
    event_id: newId("event"),
    request_id: "req_1",
    tenant_id: "tnt_1",
    key_id: null,
    user_id: null,
    model: "m",
    provider: null,
    deployment: null,
    reservation_id: null,
    period: "2026-11",
    tokens: { input: 1, output: 1 },
    cost_micros: 1,
    billed_micros: 1,
    status: "success",
    latency_ms: 1,
    occurred_at: "2026-11-23T10:00:00.000Z",
  });

describe("UsageBatcher", () => {
  it("groups submissions into full batches and a lingering partial one", async () => {
    const sizes: number[] = [];
    const batcher = new UsageBatcher({
      maxBatch: 4,
      lingerMs: 5,
      process: async (events) => {
        sizes.push(events.length);
        return events.map(() => null);
      },
    });
    await Promise.all(Array.from({ length: 10 }, () => batcher.submit(event())));
    expect(sizes).toEqual([4, 4, 2]);
  });

  it("fails exactly the submissions whose events failed, and all of a batch that threw", async () => {
    const bad = event();
    const batcher = new UsageBatcher({
      maxBatch: 3,
      lingerMs: 5,
      process: async (events) =>
        events.map((e) => (e.event_id === bad.event_id ? new Error("invalid row") : null)),
    });
    const results = await Promise.allSettled([
      batcher.submit(event()),
      batcher.submit(bad),
      batcher.submit(event()),
    ]);
    expect(results.map((r) => r.status)).toEqual(["fulfilled", "rejected", "fulfilled"]);

    const throwing = new UsageBatcher({
      maxBatch: 2,
      lingerMs: 5,
      process: async () => {
        throw new Error("pocketbase down");
      },
    });
    const failed = await Promise.allSettled([throwing.submit(event()), throwing.submit(event())]);
    expect(failed.map((r) => (r.status === "rejected" ? String(r.reason) : "ok"))).toEqual([
      "Error: pocketbase down",
      "Error: pocketbase down",
    ]);
  });

  it("runs at most maxInFlight batches at once and drains on request", async () => {
    let running = 0;
    let peak = 0;
    const batcher = new UsageBatcher({
      maxBatch: 2,
      lingerMs: 1_000,
      maxInFlight: 2,
      process: async (events) => {
        running += 1;
        peak = Math.max(peak, running);
        await new Promise((resolve) => setTimeout(resolve, 10));
        running -= 1;
        return events.map(() => null);
      },
    });
    const all = Array.from({ length: 9 }, () => batcher.submit(event()));
    await batcher.drained();
    await Promise.all(all);
    expect(peak).toBe(2);
  });
});
