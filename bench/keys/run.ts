// bench/keys: key resolution on the router's hot path (apps/router/src/services/keys/resolve-key.ts), per request:
// an in-process LRU hit, and a Redis hit (LRU miss → GET cf:key:<hash>). Proves the LRU hit sends nothing to Redis
// by diffing the server's INFO commandstats around each phase. Run alone (commandstats are server-wide).
// Usage: bun bench/keys/run.ts [--lru-requests 1000000] [--redis-requests 20000]
import { cpus } from "node:os";
import { parseArgs } from "node:util";
import { buildKeyRecord, generateApiKeySecret, hashApiKey, redisKeys } from "@cloudfreedom/shared";
import { leaseRedisDb } from "@cloudfreedom/testing";
import { KeyCache } from "../../apps/router/src/services/keys/key-cache.ts";
import { resolveKey } from "../../apps/router/src/services/keys/resolve-key.ts";

const { values } = parseArgs({
  options: {
    "lru-requests": { type: "string", default: "1000000" },
    "redis-requests": { type: "string", default: "20000" },
  },
});
const say = (line: string) => console.log(`[bench] ${line}`);
const redisDb = await leaseRedisDb();
const redis = redisDb.redis;

/** Calls per command since the server started, from INFO commandstats. */
async function commandCalls(): Promise<Map<string, number>> {
  const info = await redis.info("commandstats");
  const calls = new Map<string, number>();
  for (const match of info.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm))
    calls.set(match[1] ?? "", Number(match[2]));
  return calls;
}
/** Commands sent between two snapshots, leaving out the INFO calls of the measurement itself. */
function sent(before: Map<string, number>, after: Map<string, number>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [name, count] of after) {
    const delta = count - (before.get(name) ?? 0) - (name === "info" ? 1 : 0);
    if (delta > 0) out[name] = delta;
  }
  return out;
}

async function phase(name: string, cache: KeyCache, requests: number, header: string) {
  for (let i = 0; i < Math.min(1000, requests); i++) await resolveKey({ cache, redis }, header); // warm-up (JIT)
  const before = await commandCalls();
  const start = performance.now();
  for (let i = 0; i < requests; i++) await resolveKey({ cache, redis }, header);
  const elapsed = performance.now() - start;
  const commands = sent(before, await commandCalls());
  const perRequestUs = (elapsed * 1000) / requests;
  say(
    `${name.padEnd(10)} ${requests} requests  ${perRequestUs.toFixed(3)} µs/request  ` +
      `${Math.round(requests / (elapsed / 1000)).toLocaleString("en")} req/s  redis commands: ${JSON.stringify(commands)}`,
  );
  return { perRequestUs, commands };
}

try {
  const secret = generateApiKeySecret("cf_live");
  const hash = await hashApiKey(secret);
  const record = buildKeyRecord({
    tenant: { id: "tnt_bench000000000", slug: "bench", tier: "pro" },
    plan: { rpm: 0, tpm: 0, query_limit: 0, monthly_budget_micros: 0, markup_pct: 20 },
    key: { id: "key_bench000000000" },
  });
  await redis.set(redisKeys.keyRecord(hash), JSON.stringify(record));
  const header = `Bearer ${secret}`;
  say(
    `machine: ${cpus().length} × ${cpus()[0]?.model ?? "?"}; runtime: Bun ${Bun.version}; Redis ${redisDb.url}`,
  );

  // LRU hit: the record stays cached (TTL 60 s) for the whole phase.
  const lru = await phase("lru-hit", new KeyCache(10_000, 60_000), Number(values["lru-requests"]), header);
  // Redis hit: TTL 0 makes every lookup miss the LRU and GET the record from Redis (one round trip each).
  const viaRedis = await phase(
    "redis-hit",
    new KeyCache(10_000, 0),
    Number(values["redis-requests"]),
    header,
  );

  const lruGets = lru.commands.get ?? 0;
  say(
    `LRU hit sent ${Object.values(lru.commands).reduce((a, b) => a + b, 0)} Redis commands (GET: ${lruGets})`,
  );
  say(`Redis hit costs ${(viaRedis.perRequestUs / lru.perRequestUs).toFixed(1)}× an LRU hit`);
  if (Object.keys(lru.commands).length > 0) {
    process.exitCode = 1;
    say("FAIL: the LRU hit touched Redis");
  }
} finally {
  await redisDb.release();
}
