import type { QueuePayload } from "@cloudfreedom/shared";
import { newId } from "@cloudfreedom/shared";
import { Queue } from "bullmq";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { Consumer, Producer } from "../../src/index.ts";
import {
  closeRedis,
  createProducer,
  createRedis,
  DURABLE_JOB_OPTIONS,
  QueuePayloadError,
  queueDepth,
  queueDepthReader,
  register,
} from "../../src/index.ts";
import {
  REDIS_URL,
  recordingLogger,
  removePrefix,
  testPrefix,
  usageBatch,
  usageEvent,
  waitFor,
  waitForJobState,
} from "./helpers.ts";

const connection = createRedis({ url: REDIS_URL, name: "queue-integration-test", purpose: "queue" });
let prefix = "";
const closers: Array<() => Promise<void>> = [];

function producer(jobOptions = {}): Producer<"usage"> {
  const created = createProducer("usage", { connection, prefix, jobOptions });
  closers.push(() => created.close());
  return created;
}

function consume(
  handler: (payload: QueuePayload<"usage">) => Promise<void> | void,
  logger = recordingLogger(),
) {
  const consumer: Consumer = register("usage", handler, { connection, prefix, concurrency: 1, logger });
  closers.push(() => consumer.close());
  return { consumer, logger };
}

function rawQueue(): Queue {
  const queue = new Queue("usage", { connection, prefix });
  closers.push(() => queue.close());
  return queue;
}

beforeAll(() => connection.ping());
afterAll(() => closeRedis(connection));
beforeEach(() => {
  prefix = testPrefix();
});
afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close();
  await removePrefix(connection, prefix);
});

describe("usage queue", () => {
  it("keeps at most 100 completed jobs, payloads and all (events carry their own ids)", async () => {
    const usage = producer();
    const batches = Array.from({ length: 130 }, () => usageBatch(usageEvent()));
    await usage.addBulk(batches.map((payload) => ({ payload, jobId: payload.batch_id })));
    let done = 0;
    consume(() => {
      done += 1;
    });
    await waitFor(async () => {
      const depth = await queueDepth("usage", { connection, prefix });
      return done === 130 && depth.waiting + depth.active === 0 ? true : undefined;
    }, "every job to complete");
    expect((await queueDepth("usage", { connection, prefix })).completed).toBe(100);
    // The removed ones are gone whole: no job hash (and payload) is left behind beyond the kept ones.
    expect(await connection.keys(`${prefix}:usage:job_*`)).toHaveLength(100);
  });

  it("a depth reader follows the queue over many reads, and only reads", async () => {
    // Every command the reader sends on the shared connection: no INFO (version check) and no meta write.
    const sent: string[] = [];
    const send = connection.sendCommand;
    connection.sendCommand = function (this: typeof connection, ...args: Parameters<typeof send>) {
      sent.push(args[0].name);
      return send.apply(this, args);
    };
    const reader = queueDepthReader("usage", { connection, prefix });
    try {
      for (let i = 0; i < 5; i++) await reader.read();
    } finally {
      connection.sendCommand = send;
    }
    expect(sent.filter((name) => name !== "evalsha" && name !== "eval")).toEqual([]);
    expect(await connection.keys(`${prefix}:*`)).toEqual([]);
    closers.push(() => reader.close());
    expect(await reader.read()).toEqual({ waiting: 0, active: 0, delayed: 0, failed: 0, completed: 0 });
    await producer().addBulk([{ payload: usageBatch(usageEvent()) }, { payload: usageBatch(usageEvent()) }]);
    await producer({ delay: 60_000 }).add(usageBatch(usageEvent()));
    expect(await reader.read()).toMatchObject({ waiting: 2, delayed: 1, completed: 0 });
    let handled = 0;
    consume(() => {
      handled += 1;
    });
    await waitFor(
      async () => ((await reader.read()).completed === 2 ? true : undefined),
      "two completed jobs",
    );
    expect(handled).toBe(2);
    expect(await reader.read()).toEqual({ waiting: 0, active: 0, delayed: 1, failed: 0, completed: 2 });
  });

  it("with validate: false enqueues the payload as built, and the consumer still parses it", async () => {
    const trusted = createProducer("usage", { connection, prefix, validate: false });
    closers.push(() => trusted.close());
    const batch = usageBatch(usageEvent());
    const job = await trusted.add(batch);
    expect(job.data).toEqual(batch);
    const stored = job.data as { events: Array<{ tokens: Record<string, number> }> };
    expect(stored.events[0]?.tokens.cached_input).toBeUndefined();
    const received: QueuePayload<"usage">[] = [];
    consume((payload) => {
      received.push(payload);
    });
    const parsed = await waitFor(() => received[0], "the trusted batch to be consumed");
    expect(parsed.events[0]?.tokens.cached_input).toBe(0);
  });

  it("delivers a produced batch to the handler parsed, with the schema's defaults applied", async () => {
    const received: QueuePayload<"usage">[] = [];
    consume((payload) => {
      received.push(payload);
    });
    const first = usageEvent();
    const second = usageEvent({ source: "api", tokens: { input: 1, output: 2, reasoning: 3 } });
    const batch = usageBatch(first, second);
    const job = await producer().add(batch, { jobId: batch.batch_id });

    await waitFor(() => (received.length > 0 ? true : undefined), "the handler to run");
    expect(job.id).toBe(batch.batch_id);
    const defaults = { estimated: false, error_code: null, stream: false };
    expect(received).toEqual([
      {
        batch_id: batch.batch_id,
        events: [
          {
            ...first,
            ...defaults,
            tokens: {
              input: 10,
              output: 5,
              cached_input: 0,
              cache_write: 0,
              cache_write_1h: 0,
              reasoning: 0,
            },
            source: "router",
          },
          {
            ...second,
            ...defaults,
            tokens: { input: 1, output: 2, cached_input: 0, cache_write: 0, cache_write_1h: 0, reasoning: 3 },
          },
        ],
      },
    ]);
  });

  it("applies defaults in the consumer to a payload enqueued without them", async () => {
    const received: QueuePayload<"usage">[] = [];
    consume((payload) => {
      received.push(payload);
    });
    await rawQueue().add("usage", usageBatch(usageEvent()));

    await waitFor(() => (received.length > 0 ? true : undefined), "the handler to run");
    expect(received[0]?.events[0]?.tokens.cached_input).toBe(0);
    expect(received[0]?.events[0]?.source).toBe("router");
  });

  it("refuses an invalid payload naming the field, and enqueues nothing", async () => {
    const usage = producer();
    // The second event is the bad one: the path names the event's position in the batch.
    const bad = {
      batch_id: newId("job"),
      events: [usageEvent(), { ...usageEvent(), tokens: { input: "10", output: 5 } }],
    };

    // @ts-expect-error the point: a wrongly typed field that slipped past the type checker
    const attempt = usage.add(bad);

    await expect(attempt).rejects.toBeInstanceOf(QueuePayloadError);
    await expect(attempt).rejects.toThrow(/invalid payload for queue "usage": events\[1\]\.tokens\.input: /);
    expect(await queueDepth("usage", { connection, prefix })).toEqual({
      waiting: 0,
      active: 0,
      delayed: 0,
      failed: 0,
      completed: 0,
    });
  });

  it("rejects a whole bulk when one payload is invalid", async () => {
    const usage = producer();
    const items = [
      { payload: usageBatch(usageEvent()) },
      { payload: usageBatch(usageEvent(), usageEvent({ period: "November" })) },
    ];

    await expect(usage.addBulk(items)).rejects.toThrow(/events\[1\]\.period: /);
    expect((await queueDepth("usage", { connection, prefix })).waiting).toBe(0);
  });

  it("fails a malformed job after one attempt, naming the field, without calling the handler", async () => {
    const { tenant_id: _dropped, ...withoutTenant } = usageEvent();
    const raw = await rawQueue().add(
      "usage",
      { batch_id: newId("job"), events: [withoutTenant] },
      { attempts: 8 },
    );
    const calls: string[] = [];
    const { logger } = consume((payload) => {
      calls.push(payload.batch_id);
    });

    const failed = await waitForJobState(rawQueue(), raw.id ?? "", "failed");
    expect(failed.attemptsMade).toBe(1);
    expect(failed.failedReason).toMatch(/invalid payload for queue "usage": events\[0\]\.tenant_id: /);
    expect(calls).toEqual([]);
    expect(logger.warnings).toEqual([
      { msg: "queue job failed", obj: expect.objectContaining({ job_id: raw.id, final: true }) },
    ]);
  });

  it("retries with the capped backoff of DURABLE_JOB_OPTIONS (a custom type every consumer knows)", async () => {
    let calls = 0;
    consume(() => {
      calls += 1;
      if (calls <= 3) throw new Error(`transient failure ${calls}`);
    });
    const usage = producer({ ...DURABLE_JOB_OPTIONS, backoff: { type: "capped", delay: 5 } });
    const job = await usage.add(usageBatch(usageEvent()));
    const done = await waitForJobState(rawQueue(), job.id ?? "", "completed");
    expect(calls).toBe(4);
    expect(done.opts.attempts).toBe(DURABLE_JOB_OPTIONS.attempts);
  });

  it("retries a failing handler with backoff until it succeeds", async () => {
    let calls = 0;
    const { logger } = consume(() => {
      calls += 1;
      if (calls <= 2) throw new Error(`transient failure ${calls}`);
    });
    const usage = producer({ backoff: { type: "exponential", delay: 10 } });
    const job = await usage.add(usageBatch(usageEvent()));

    const done = await waitForJobState(rawQueue(), job.id ?? "", "completed");
    expect(calls).toBe(3);
    expect({ started: done.attemptsStarted, made: done.attemptsMade }).toEqual({ started: 3, made: 3 });
    expect(logger.warnings.map((warning) => warning.obj.final)).toEqual([false, false]);
  });

  it("processes a job added twice with the same jobId once", async () => {
    const usage = producer();
    const batch = usageBatch(usageEvent(), usageEvent());
    await usage.add(batch, { jobId: batch.batch_id });
    await usage.addBulk([{ payload: batch, jobId: batch.batch_id }]);
    const seen: string[] = [];
    consume((payload) => {
      seen.push(payload.batch_id);
    });
    await waitFor(() => (seen.length > 0 ? true : undefined), "the first delivery");
    // Added again after completion: the retained completed job still holds the id.
    await usage.add(batch, { jobId: batch.batch_id });

    // Concurrency 1 and FIFO: once the sentinel ran, any duplicate would have run before it.
    const sentinel = usageBatch(usageEvent());
    await usage.add(sentinel, { jobId: sentinel.batch_id });
    await waitFor(() => (seen.includes(sentinel.batch_id) ? true : undefined), "the sentinel");
    expect(seen).toEqual([batch.batch_id, sentinel.batch_id]);
  });

  it("reports waiting, delayed and failed counts", async () => {
    const { tenant_id: _dropped, ...withoutTenant } = usageEvent();
    await rawQueue().add("usage", { batch_id: newId("job"), events: [withoutTenant] });
    const { consumer } = consume(() => undefined);
    await waitFor(
      async () => ((await queueDepth("usage", { connection, prefix })).failed === 1 ? true : undefined),
      "the malformed job to fail",
    );
    await consumer.close();

    const usage = producer();
    await usage.addBulk([
      { payload: usageBatch(usageEvent()) },
      { payload: usageBatch(usageEvent(), usageEvent()) },
      { payload: usageBatch(usageEvent()) },
    ]);
    await usage.add(usageBatch(usageEvent()), { delayMs: 60_000 });

    expect(await queueDepth("usage", { connection, prefix })).toEqual({
      waiting: 3,
      active: 0,
      delayed: 1,
      failed: 1,
      completed: 0,
    });
  });
});
