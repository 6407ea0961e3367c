import { randomUUID } from "node:crypto";
import type { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { closeRedis, createRedis, waitForRedis, withLock } from "../../src/index.ts";
import { REDIS_URL } from "./helpers.ts";

// A lock shared by replicas: two connections stand for two processes.
let a: Redis;
let b: Redis;

beforeAll(async () => {
  a = createRedis({ url: REDIS_URL, purpose: "request" });
  b = createRedis({ url: REDIS_URL, purpose: "request" });
  await Promise.all([waitForRedis(a), waitForRedis(b)]);
});
afterAll(async () => {
  await closeRedis(a);
  await closeRedis(b);
});

const lockKey = () => `cf:test:lock:${randomUUID()}`;

describe("withLock", () => {
  it("runs the work of one holder at a time and frees the lock after it", async () => {
    const key = lockKey();
    let release: () => void = () => undefined;
    const running = withLock(
      a,
      key,
      10_000,
      () => new Promise<string>((resolve) => (release = () => resolve("a"))),
    );
    await expect.poll(() => a.exists(key)).toBe(1);
    let ran = false;
    expect(await withLock(b, key, 10_000, async () => (ran = true))).toEqual({ held: false });
    expect(ran).toBe(false);
    release();
    expect(await running).toEqual({ held: true, value: "a", lost: false });
    expect(await a.exists(key)).toBe(0);
    expect(await withLock(b, key, 10_000, async () => "b")).toEqual({ held: true, value: "b", lost: false });
  });

  it("waits for the lock when asked to, and gives up once the wait is over", async () => {
    const key = lockKey();
    await a.set(key, "other-holder", "PX", 10_000);
    const wait = { waitMs: 100, pollMs: 20 };
    expect(await withLock(b, key, 10_000, async () => "too soon", wait)).toEqual({ held: false });
    setTimeout(() => void a.del(key), 50);
    expect(await withLock(b, key, 10_000, async () => "after it", { waitMs: 2_000, pollMs: 20 })).toEqual({
      held: true,
      value: "after it",
      lost: false,
    });
  });

  it("frees the lock when the work throws, and passes the error on", async () => {
    const key = lockKey();
    await expect(
      withLock(a, key, 10_000, async () => {
        throw new Error("work failed");
      }),
    ).rejects.toThrow("work failed");
    expect(await a.exists(key)).toBe(0);
  });

  it("leaves alone a lock that expired under a slow holder and was taken by another", async () => {
    const key = lockKey();
    const slow = withLock(a, key, 50, async () => {
      await expect.poll(() => a.exists(key), { interval: 10 }).toBe(0);
      // Another replica takes the expired lock while this holder is still working.
      expect(await b.set(key, "b-token", "PX", 10_000, "NX")).toBe("OK");
    });
    expect(await slow).toEqual({ held: true, value: undefined, lost: true });
    expect(await a.get(key)).toBe("b-token");
    await a.del(key);
  });

  it("expires the lock of a holder that never releases it (a crashed replica)", async () => {
    const key = lockKey();
    await a.set(key, "crashed-holder", "PX", 10_000);
    expect(await withLock(b, key, 10_000, async () => "early")).toEqual({ held: false });
    await a.pexpire(key, 50);
    await expect
      .poll(() => withLock(b, key, 10_000, async () => "later"), { interval: 20 })
      .toEqual({ held: true, value: "later", lost: false });
  });
});
