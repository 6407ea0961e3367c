import { decryptSecret, encryptSecret, hashApiKey, KeyRecord, priceUsage } from "@cloudfreedom/shared";
import { describe, expect, it } from "vitest";
import { makeUsage } from "../../src/providers/common.ts";
import { KeyCache } from "../../src/services/keys/key-cache.ts";
import { bearerToken, hashKeySync, resolveKey } from "../../src/services/keys/resolve-key.ts";

const record = (tenant: string) =>
  KeyRecord.parse({
    key_id: `key_${tenant}`,
    tenant_id: tenant,
    tenant_slug: tenant,
    user_id: null,
    tier: "pro",
    scopes: ["chat"],
    models: null,
    rpm: null,
    tpm: null,
    budget_micros: null,
    tenant_limits: { rpm: null, tpm: null, query_limit: null, budget_micros: null, markup_pct: 20 },
    expires_at: null,
    revoked: false,
  });

describe("KeyCache", () => {
  it("expires entries after the TTL and evicts the least recently used", () => {
    const cache = new KeyCache(2, 100);
    cache.set("a", record("t1"), 0);
    cache.set("b", record("t1"), 0);
    expect(cache.get("a", 50)?.tenant_id).toBe("t1");
    cache.set("c", record("t2"), 50);
    expect(cache.get("b", 60)).toBeUndefined();
    expect(cache.get("a", 99)).toBeDefined();
    expect(cache.get("a", 151)).toBeUndefined();
  });

  it("evicts one tenant's keys", () => {
    const cache = new KeyCache(10, 1_000);
    cache.set("a", record("t1"), 0);
    cache.set("b", record("t2"), 0);
    cache.evictTenant("t1");
    expect([cache.get("a", 1), cache.get("b", 1)?.tenant_id]).toEqual([undefined, "t2"]);
  });

  it("does not cache a record read before an invalidation that arrived while it was read", async () => {
    const cache = new KeyCache(10, 60_000);
    let answer: (value: string) => void = () => undefined;
    const redis = { get: () => new Promise<string>((resolve) => (answer = resolve)) };
    const secret = "cf_live_abcdefghijklmnopqrstuvwxyz012345";
    const pending = resolveKey({ cache, redis: redis as never }, `Bearer ${secret}`);
    // The key is revoked while its (still live) record is on its way from Redis.
    cache.evict(hashKeySync(secret));
    answer(JSON.stringify(record("t1")));
    expect((await pending).tenant_id).toBe("t1");
    expect(cache.get(hashKeySync(secret))).toBeUndefined();
  });
});

describe("key hashing", () => {
  it("hashes synchronously to the same hex as the shared async hash", async () => {
    expect(hashKeySync("cf_live_abc")).toBe(await hashApiKey("cf_live_abc"));
  });

  it("reads only well-formed bearer headers", () => {
    expect(bearerToken("Bearer cf_live_x")).toBe("cf_live_x");
    expect(bearerToken("bearer  cf_live_x ")).toBe("cf_live_x");
    expect(bearerToken("Basic abc")).toBeUndefined();
    expect(bearerToken("Bearer a b")).toBeUndefined();
  });
});

describe("provider credentials at rest", () => {
  const masterKey = Buffer.alloc(32, 7).toString("base64");

  it("round-trips with AES-256-GCM and a fresh IV each time", async () => {
    const a = await encryptSecret("sk-secret", masterKey);
    const b = await encryptSecret("sk-secret", masterKey);
    expect(a).not.toBe(b);
    expect(a).not.toContain("sk-secret");
    expect(await decryptSecret(a, masterKey)).toBe("sk-secret");
  });

  it("refuses a wrong key or tampered data", async () => {
    const sealed = await encryptSecret("sk-secret", masterKey);
    await expect(decryptSecret(sealed, Buffer.alloc(32, 8).toString("hex"))).rejects.toThrow(
      /wrong MASTER_KEY/,
    );
    const tampered = `${sealed.slice(0, -4)}AAAA`;
    await expect(decryptSecret(tampered, masterKey)).rejects.toThrow(/wrong MASTER_KEY, tampered data/);
    await expect(encryptSecret("x", "short")).rejects.toThrow(/32 bytes/);
  });
});

describe("priceUsage", () => {
  it("prices uncached, cached and output tokens separately, then adds the markup", () => {
    const prices = {
      input_per_million: 2_500_000,
      cached_input_per_million: 1_250_000,
      output_per_million: 10_000_000,
    };
    // 1,000 input of which 400 cached, 500 output: 600×2.5 + 400×1.25 + 500×10 = 1,500 + 500 + 5,000 micros.
    const priced = priceUsage({ input: 1_000, cached_input: 400, output: 500, reasoning: 100 }, prices, 20);
    expect(priced).toEqual({ cost: 7_000, billed: 8_400 });
  });
});

describe("usage from a provider", () => {
  it("is whole non-negative token counts, so pricing a misbehaving upstream's numbers cannot throw", () => {
    const usage = makeUsage(12.6, -3, { cached: Number.NaN, reasoning: 2 });
    expect(usage).toEqual({
      input: 13,
      output: 0,
      cached_input: 0,
      cache_write: 0,
      cache_write_1h: 0,
      reasoning: 2,
      estimated: true,
    });
    expect(makeUsage(12.6, 3).estimated).toBe(false);
    const prices = {
      input_per_million: 1_000_000,
      cached_input_per_million: 500_000,
      output_per_million: 2_000_000,
    };
    expect(priceUsage(usage, prices, 20)).toEqual({ cost: 13, billed: 16 });
  });
});
