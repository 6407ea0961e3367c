import type { Redis } from "ioredis";
import { afterEach, describe, expect, it } from "vitest";
import {
  closeRedis,
  createProducer,
  createRedis,
  queueDepth,
  register,
  waitForRedis,
} from "../../src/index.ts";
import {
  REDIS_URL,
  recordingLogger,
  removePrefix,
  testPrefix,
  usageBatch,
  usageEvent,
  waitFor,
} from "./helpers.ts";

const opened: Redis[] = [];
const prefixes: string[] = [];

function open(...args: Parameters<typeof createRedis>): Redis {
  const redis = createRedis(...args);
  opened.push(redis);
  return redis;
}

afterEach(async () => {
  const admin = createRedis({ url: REDIS_URL, purpose: "queue" });
  for (const prefix of prefixes.splice(0)) await removePrefix(admin, prefix);
  await closeRedis(admin);
  for (const redis of opened.splice(0)) await closeRedis(redis);
});

describe("createRedis", () => {
  it("names the connection on the server", async () => {
    const redis = open({ url: REDIS_URL, name: "queue-test-named", purpose: "request" });
    await waitForRedis(redis);
    expect(await redis.client("GETNAME")).toBe("queue-test-named");
  });

  it("fails a request-path command at once when Redis is unreachable, and reports through the logger", async () => {
    const logger = recordingLogger();
    const redis = open({ url: "redis://127.0.0.1:1", name: "queue-test-down", purpose: "request", logger });

    await expect(redis.get("anything")).rejects.toThrow(/enableOfflineQueue/);
    await waitFor(() => logger.warnings[0], "a connection error warning");
    expect(logger.warnings[0]).toEqual({
      msg: "redis connection error",
      obj: expect.objectContaining({ redis: "queue-test-down", purpose: "request" }),
    });
  });

  it("connects a lazy request connection on demand, after which commands succeed", async () => {
    const redis = open({ url: REDIS_URL, purpose: "request", lazyConnect: true });
    expect(redis.status).toBe("wait");
    await waitForRedis(redis);
    expect(await redis.ping()).toBe("PONG");
  });

  it("gives up waiting for an unreachable Redis with a clear error", async () => {
    const redis = open({ url: "redis://127.0.0.1:1", purpose: "request", lazyConnect: true });
    await expect(waitForRedis(redis, 200)).rejects.toThrow(/redis not ready after 200 ms/);
  });

  it("closes a connection that never connected", async () => {
    const redis = createRedis({ url: REDIS_URL, lazyConnect: true });
    await closeRedis(redis);
    expect(redis.status).toBe("end");
  });
});

/** Counts the socket's writes to the kernel: one `_write`, or one `_writev` for writes buffered while corked. */
function countSocketWrites(redis: Redis): { count: number } {
  const socket = redis.stream as unknown as {
    _write: (...args: unknown[]) => unknown;
    _writev?: (...args: unknown[]) => unknown;
  };
  const counter = { count: 0 };
  for (const method of ["_write", "_writev"] as const) {
    const original = socket[method];
    if (!original) continue;
    socket[method] = function (this: unknown, ...args: unknown[]) {
      counter.count += 1;
      return original.apply(this, args);
    };
  }
  return counter;
}

describe("write coalescing", () => {
  it("sends the commands, pipelines and scripts of one event-loop turn in one socket write, replies in order", async () => {
    const redis = open({ url: REDIS_URL, purpose: "queue" });
    await waitForRedis(redis);
    const key = `queue-test-coalesce-${process.pid}`;
    const writes = countSocketWrites(redis);

    const replies = await Promise.all([
      redis.set(key, "1"),
      redis.incr(key),
      redis.pipeline().incr(key).get(key).exec(),
      redis.eval("return redis.call('INCR', KEYS[1])", 1, key),
      redis.del(key),
    ]);

    expect(replies).toEqual([
      "OK",
      2,
      [
        [null, 3],
        [null, "3"],
      ],
      4,
      1,
    ]);
    expect(writes.count).toBe(1);
  });

  it("does not hold a command past its turn: each awaited command is its own write", async () => {
    const redis = open({ url: REDIS_URL, purpose: "queue" });
    await waitForRedis(redis);
    const writes = countSocketWrites(redis);

    for (let i = 0; i < 3; i++) expect(await redis.ping()).toBe("PONG");
    expect(writes.count).toBe(3);
  });

  it("writes each command at once on a request connection, or when coalescing is turned off", async () => {
    for (const options of [
      { purpose: "request" as const },
      { purpose: "queue" as const, coalesceWrites: false },
    ]) {
      const redis = open({ url: REDIS_URL, ...options });
      await waitForRedis(redis);
      const writes = countSocketWrites(redis);

      await Promise.all([redis.ping(), redis.ping(), redis.ping()]);
      expect(writes.count).toBe(3);
    }
  });

  it("coalesces a request connection too when asked", async () => {
    const redis = open({ url: REDIS_URL, purpose: "request", coalesceWrites: true });
    await waitForRedis(redis);
    const writes = countSocketWrites(redis);

    await Promise.all([redis.ping(), redis.ping(), redis.ping()]);
    expect(writes.count).toBe(1);
  });
});

describe("connection purposes with BullMQ", () => {
  it("lets a producer enqueue over a fail-fast request connection", async () => {
    const prefix = testPrefix();
    prefixes.push(prefix);
    const redis = open({ url: REDIS_URL, purpose: "request" });
    const producer = createProducer("usage", { connection: redis, prefix });

    await producer.add(usageBatch(usageEvent()));
    await producer.close();
    expect((await queueDepth("usage", { connection: redis, prefix })).waiting).toBe(1);
  });

  it("refuses to start a worker on a request connection, naming the fix", () => {
    const redis = open({ url: REDIS_URL, purpose: "request", lazyConnect: true });
    expect(() => register("usage", () => undefined, { connection: redis })).toThrow(/purpose: "queue"/);
  });
});
