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
