import { Redis } from "ioredis";
import { afterAll, describe, expect, it } from "vitest";
import { type LeasedRedisDb, leaseRedisDb, redisServer } from "../../src/redis.ts";

const control = new Redis({ ...redisServer(), db: 0 });
afterAll(() => control.disconnect());

describe("leased Redis databases", () => {
  it("gives two suites different, empty databases and cleans each on release", async () => {
    const leases: LeasedRedisDb[] = [await leaseRedisDb(), await leaseRedisDb()];
    const [first, second] = leases as [LeasedRedisDb, LeasedRedisDb];
    try {
      expect(first.db).not.toBe(second.db);
      for (const lease of leases) {
        expect(lease.db).toBeGreaterThanOrEqual(1);
        expect(lease.db).toBeLessThanOrEqual(15);
        expect(lease.url).toMatch(new RegExp(`^redis://[^/]+:\\d+/${lease.db}$`));
        expect(await lease.redis.dbsize()).toBe(0);
        expect(await control.get(`cf:test:lease:${lease.db}`)).toMatch(new RegExp(`^${process.pid}:`));
      }

      await first.redis.set("cf:key:abc", "first");
      expect(await second.redis.get("cf:key:abc")).toBeNull();
      // The URL reaches the same database as the client.
      const viaUrl = new Redis(first.url);
      expect(await viaUrl.get("cf:key:abc")).toBe("first");
      viaUrl.disconnect();

      await first.release();
      await first.release();
      const inspect = new Redis({ ...redisServer(), db: first.db });
      expect(await inspect.dbsize()).toBe(0);
      inspect.disconnect();
      expect(await control.exists(`cf:test:lease:${first.db}`)).toBe(0);
      expect(await control.exists(`cf:test:lease:${second.db}`)).toBe(1);
    } finally {
      await Promise.all(leases.map((lease) => lease.release()));
    }
    expect(await control.exists(`cf:test:lease:${second.db}`)).toBe(0);
  });
});

describe("stale leases", () => {
  it("takes back a db whose lease belongs to a process that no longer exists", async () => {
    const control = new Redis({ ...redisServer(), db: 0 });
    // Every db leased by a dead process (pid 2^22 + 7 exceeds Linux's pid_max default, so it cannot be alive).
    const dead = `${4_194_311}:1`;
    const saved: Array<[string, string | null]> = [];
    for (let db = 1; db <= 15; db++) {
      const key = `cf:test:lease:${db}`;
      saved.push([key, await control.get(key)]);
      await control.set(key, dead, "EX", 60, "NX");
    }
    const lease = await leaseRedisDb();
    expect(await control.get(`cf:test:lease:${lease.db}`)).toMatch(new RegExp(`^${process.pid}:`));
    await lease.release();
    for (const [key, value] of saved)
      if (value === null && (await control.get(key)) === dead) await control.del(key);
    control.disconnect();
  });
});
