import { redisKeys } from "@cloudfreedom/shared";
import { createApiKey, createTenant, startServiceProcess } from "@cloudfreedom/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { flushLastUsed } from "../../src/jobs/flush-last-used.ts";
import { type AuthHarness, startAuth } from "./harness.ts";

let h: AuthHarness;
beforeAll(async () => {
  h = await startAuth();
});
afterAll(async () => {
  await h?.stop();
});

const flushDeps = (batchSize = 500) => ({
  db: h.db,
  redis: h.redisDb.redis,
  logger: h.runtime.logger,
  batchSize,
});
const lastUsed = async (tenantId: string, id: string) =>
  (await h.db.forTenant(tenantId).collection("api_keys").getOne(id)).last_used_at;

describe("key last_used_at", () => {
  it("drains the router's usage set into api_keys in batches and empties it", async () => {
    const tenant = await createTenant({ db: h.db });
    const keys = await Promise.all(
      [1, 2, 3, 4, 5].map(() => createApiKey({ db: h.db, redis: h.redisDb.redis }, tenant)),
    );
    const at = Date.parse("2026-11-23T10:00:00.000Z");
    await h.redisDb.redis.zadd(redisKeys.keyLastUsed, ...keys.flatMap((k, i) => [at + i * 1000, k.row.id]));
    const result = await flushLastUsed(flushDeps(2));
    expect(result).toEqual({ written: 5, dropped: 0 });
    for (const [i, key] of keys.entries()) {
      expect(await lastUsed(tenant.id, key.row.id)).toBe(
        new Date(at + i * 1000).toISOString().replace("T", " "),
      );
    }
    expect(await h.redisDb.redis.zcard(redisKeys.keyLastUsed)).toBe(0);
  });

  it("drops ids of deleted keys without losing the others", async () => {
    const tenant = await createTenant({ db: h.db });
    const kept = await createApiKey({ db: h.db, redis: h.redisDb.redis }, tenant);
    const gone = await createApiKey({ db: h.db, redis: h.redisDb.redis }, tenant);
    await h.db.forTenant(tenant.id).collection("api_keys").delete(gone.row.id);
    await h.redisDb.redis.zadd(
      redisKeys.keyLastUsed,
      1_700_000_000_000,
      gone.row.id,
      1_700_000_001_000,
      kept.row.id,
      5,
      "NOT AN ID",
    );
    expect(await flushLastUsed(flushDeps())).toEqual({ written: 1, dropped: 2 });
    expect(await lastUsed(tenant.id, kept.row.id)).not.toBe("");
  });

  it("puts entries back when PocketBase refuses the batch, never over a newer use", async () => {
    const tenant = await createTenant({ db: h.db });
    const key = await createApiKey({ db: h.db, redis: h.redisDb.redis }, tenant);
    await h.redisDb.redis.zadd(redisKeys.keyLastUsed, 1000, key.row.id);
    const broken = {
      ...flushDeps(),
      db: { ...h.db, client: { ...h.db.client, callRaw: () => Promise.reject(new Error("down")) } },
    };
    await expect(flushLastUsed(broken)).rejects.toThrow("down");
    expect(await h.redisDb.redis.zscore(redisKeys.keyLastUsed, key.row.id)).toBe("1000");
  });

  it("runs in the auth worker process, off the request path", async () => {
    const tenant = await createTenant({ db: h.db });
    const key = await createApiKey({ db: h.db, redis: h.redisDb.redis }, tenant);
    const worker = await startServiceProcess({
      app: "auth",
      entry: "worker",
      env: { ...h.env, LOG_LEVEL: "info", LAST_USED_FLUSH_MS: "100" },
    });
    try {
      await h.redisDb.redis.zadd(redisKeys.keyLastUsed, Date.now(), key.row.id);
      // A flush of entries other suites left may be logged first: wait for this key's row, then the log.
      const deadline = Date.now() + 15_000;
      while ((await lastUsed(tenant.id, key.row.id)) === "" && Date.now() < deadline)
        await new Promise((resolve) => setTimeout(resolve, 50));
      expect(await lastUsed(tenant.id, key.row.id)).not.toBe("");
      await worker.waitForLog((entry) => entry.msg === "key last_used_at flushed");
    } finally {
      expect(await worker.stop()).toBe(0);
    }
  });
});
