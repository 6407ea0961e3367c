import type { Producer } from "@cloudfreedom/queue";
import { createLogger } from "@cloudfreedom/service-kit";
import { newId, type QueuePayloadInput, type Span, type UsageEventInput } from "@cloudfreedom/shared";
import type { Redis } from "ioredis";
import { describe, expect, it } from "vitest";
import { EventPublisher } from "../../src/services/events/publisher.ts";

const event = (i: number): UsageEventInput => ({
  event_id: newId("event"),
  request_id: `req_${i}`,
  tenant_id: `tnt_${i % 3}`,
  key_id: `key_${i % 5}`,
  user_id: null,
  model: "m",
  provider: "p",
  deployment: "d",
  reservation_id: null,
  period: "2026-11",
  tokens: { input: 1, output: 1 },
  cost_micros: 1,
  billed_micros: 1,
  status: "success",
  latency_ms: 1,
  occurred_at: new Date(1_700_000_000_000 + i).toISOString(),
});
const span = { trace_id: "a".repeat(32), span_id: "b".repeat(16), name: "chat m" } as Span;

function slowProducers(delayMs: number, options: { failFirst?: number } = {}) {
  const sent = {
    usage: [] as string[],
    jobIds: [] as string[],
    attempts: [] as string[],
    spans: 0,
    lastUsed: new Map<string, number>(),
  };
  let failures = options.failFirst ?? 0;
  const later = () => new Promise((resolve) => setTimeout(resolve, delayMs));
  const usageProducer = {
    queueName: "usage",
    addBulk: async (items: Array<{ payload: QueuePayloadInput<"usage">; jobId?: string }>) => {
      await later();
      sent.attempts.push(...items.map((item) => item.jobId ?? "none"));
      if (failures > 0) {
        failures -= 1;
        throw new Error("queue unreachable");
      }
      for (const item of items) {
        expect(item.jobId).toBe(item.payload.batch_id);
        sent.jobIds.push(item.payload.batch_id);
        sent.usage.push(...item.payload.events.map((e) => e.event_id));
      }
      return [];
    },
  } as unknown as Producer<"usage">;
  const tracesProducer = {
    queueName: "traces",
    addBulk: async (items: Array<{ payload: { spans: Span[] } }>) => {
      await later();
      for (const item of items) sent.spans += item.payload.spans.length;
      return [];
    },
  } as unknown as Producer<"traces">;
  const redis = {
    zadd: async (_key: string, _gt: string, ...args: Array<string | number>) => {
      for (let i = 0; i < args.length; i += 2) sent.lastUsed.set(String(args[i + 1]), Number(args[i]));
      return 0;
    },
  } as unknown as Redis;
  return { sent, usageProducer, tracesProducer, redis };
}

describe("EventPublisher", () => {
  it("sends every event and span exactly once when events keep arriving during slow flushes", async () => {
    const { sent, ...deps } = slowProducers(15);
    const publisher = new EventPublisher({ ...deps, flushMs: 2, logger: createLogger("test", "silent") });
    const ids: string[] = [];
    for (let i = 0; i < 2_000; i++) {
      const e = event(i);
      ids.push(e.event_id);
      publisher.publish(e, span);
      if (i % 50 === 0) await new Promise((resolve) => setTimeout(resolve, 3));
    }
    const deadline = Date.now() + 5_000;
    while ((sent.usage.length < ids.length || sent.spans < 2_000) && Date.now() < deadline)
      await new Promise((resolve) => setTimeout(resolve, 10));
    expect(sent.usage.sort()).toEqual(ids.sort());
    expect(sent.spans).toBe(2_000);
    expect(publisher.pending).toBe(0);
    expect(sent.lastUsed.get("key_4")).toBe(1_700_000_000_000 + 1_999);
    // One job per flush, not per event.
    expect(sent.jobIds.length).toBeLessThan(ids.length / 10);
  });

  it("sends a batch the queue refused again under the same job id, and loses nothing", async () => {
    const { sent, ...deps } = slowProducers(1, { failFirst: 2 });
    const publisher = new EventPublisher({ ...deps, flushMs: 1, logger: createLogger("test", "silent") });
    const ids = Array.from({ length: 300 }, (_, i) => event(i));
    for (const e of ids) publisher.publish(e, span);
    await publisher.flush();
    await publisher.flush();
    expect(sent.usage).toEqual([]);
    await publisher.close();
    expect(sent.usage.sort()).toEqual(ids.map((e) => e.event_id).sort());
    expect(sent.jobIds).toHaveLength(1);
    expect(sent.attempts).toEqual([sent.jobIds[0], sent.jobIds[0], sent.jobIds[0]]);
  });

  it("flushes what is buffered on close", async () => {
    const { sent, ...deps } = slowProducers(1);
    const publisher = new EventPublisher({
      ...deps,
      flushMs: 10_000,
      logger: createLogger("test", "silent"),
    });
    for (let i = 0; i < 1_200; i++) publisher.publish(event(i), span);
    await publisher.close();
    expect(sent.usage).toHaveLength(1_200);
    expect(publisher.pending).toBe(0);
  });

  it("marks each batch's keys once, and a mark that never answers (Redis away) does not hold up flush or close", async () => {
    const { sent, usageProducer, tracesProducer } = slowProducers(0);
    const marks: Array<Array<string | number>> = [];
    const redis = {
      // A queue connection waits out an outage: this ZADD never answers.
      zadd: (_key: string, _gt: string, ...args: Array<string | number>) => {
        marks.push(args);
        return new Promise<number>(() => undefined);
      },
    } as unknown as Redis;
    const publisher = new EventPublisher({
      usageProducer,
      tracesProducer,
      redis,
      flushMs: 10_000,
      logger: createLogger("test", "silent"),
    });
    for (let i = 0; i < 10; i++) publisher.publish(event(i), span);
    await publisher.flush();
    await publisher.close();
    expect(sent.usage).toHaveLength(10);
    expect(publisher.pending).toBe(0);
    // One mark for the one batch: the newest use of each of the 5 keys.
    expect(marks).toHaveLength(1);
    expect(marks[0]).toHaveLength(10);
    expect(marks[0]).toContain("key_4");
    expect(marks[0]).toContain(Date.parse(event(9).occurred_at));
  });

  it("does not send again while an add that outlived its deadline still waits in the connection", async () => {
    let release: () => void = () => undefined;
    const hanging = new Promise<void>((resolve) => {
      release = resolve;
    });
    const calls: string[][] = [];
    let hang = true;
    const usageProducer = {
      queueName: "usage",
      addBulk: async (items: Array<{ jobId?: string }>) => {
        calls.push(items.map((item) => item.jobId ?? ""));
        if (hang) await hanging;
        return [];
      },
    } as unknown as Producer<"usage">;
    const { tracesProducer, redis } = slowProducers(0);
    const publisher = new EventPublisher({
      usageProducer,
      tracesProducer,
      redis,
      flushMs: 10_000,
      enqueueDeadlineMs: 20,
      logger: createLogger("test", "silent"),
    });
    for (let i = 0; i < 10; i++) publisher.publish(event(i), span);
    await publisher.flush(); // times out; the add is still pending
    await publisher.flush();
    await publisher.flush();
    expect(calls).toHaveLength(1);
    expect(publisher.pending).toBe(10);
    hang = false;
    release(); // Redis is back: the first add lands
    await new Promise((resolve) => setTimeout(resolve, 0));
    await publisher.flush(); // sent again under the same id (the queue ignores the copy)
    expect(calls).toHaveLength(2);
    expect(calls[1]).toEqual(calls[0]);
    expect(publisher.pending).toBe(0);
  });
});
