import { Redis } from "ioredis";

/**
 * Per-suite Redis isolation by database index: each suite leases one of db 1..15 (db 0 holds only the
 * leases), starts it empty and empties it on release. Keys are isolated; pub/sub channels are NOT — Redis
 * channels are server-wide, whatever the selected db — so suites that publish (`cf:invalidate`) must expect
 * other suites' messages or use a suite-unique channel.
 */
export interface LeasedRedisDb {
  /** `redis://host:port/<db>`, for services started by the suite. */
  url: string;
  db: number;
  /** A client already on the leased db. */
  redis: Redis;
  /** Empties the db, releases the lease and closes `redis`. Safe to call twice. */
  release(): Promise<void>;
}

const FIRST_DB = 1;
const LAST_DB = 15;
const LEASE_TTL_SECONDS = 3600;
const leaseKey = (db: number) => `cf:test:lease:${db}`;

/** Host and port of `REDIS_URL`, else the local default 127.0.0.1:6379. */
export function redisServer(env: NodeJS.ProcessEnv = process.env): {
  host: string;
  port: number;
  password?: string;
} {
  const raw = env.REDIS_URL;
  if (!raw) return { host: "127.0.0.1", port: 6379 };
  const parsed = new URL(raw);
  const password = parsed.password ? decodeURIComponent(parsed.password) : undefined;
  return {
    host: parsed.hostname || "127.0.0.1",
    port: Number(parsed.port || 6379),
    ...(password ? { password } : {}),
  };
}

function redisUrl(server: { host: string; port: number; password?: string }, db: number): string {
  const auth = server.password ? `:${encodeURIComponent(server.password)}@` : "";
  return `redis://${auth}${server.host}:${server.port}/${db}`;
}

/**
 * Leases a free db index with an atomic `SET cf:test:lease:<n> <pid> NX EX 3600` on db 0. A crashed suite's
 * lease expires within the hour; the db is flushed on lease anyway, so a stale leftover never leaks in.
 */
export async function leaseRedisDb(): Promise<LeasedRedisDb> {
  const server = redisServer();
  const control = new Redis({ ...server, db: 0, lazyConnect: true, maxRetriesPerRequest: 1 });
  try {
    await control.connect();
    for (let db = FIRST_DB; db <= LAST_DB; db += 1) {
      const owner = `${process.pid}:${Date.now()}`;
      let taken = await control.set(leaseKey(db), owner, "EX", LEASE_TTL_SECONDS, "NX");
      if (taken !== "OK" && (await reclaimDeadLease(control, db))) {
        taken = await control.set(leaseKey(db), owner, "EX", LEASE_TTL_SECONDS, "NX");
      }
      if (taken !== "OK") continue;
      const redis = new Redis({ ...server, db, maxRetriesPerRequest: 3 });
      await redis.flushdb();
      return { url: redisUrl(server, db), db, redis, release: releaser(server, db, owner, redis) };
    }
    throw new Error(
      `no free Redis test db: ${FIRST_DB}..${LAST_DB} are all leased (keys ${leaseKey(FIRST_DB)}…); ` +
        "release leases in afterAll, or delete stale ones from db 0",
    );
  } finally {
    control.disconnect();
  }
}

/**
 * A suite killed before its afterAll leaves its lease for an hour; after fifteen of those, no suite can run.
 * A lease whose owner process no longer exists on this machine is taken back (compare-and-delete, so a
 * lease renewed meanwhile is left alone). Leases name their owner as `<pid>:<ms>`.
 */
async function reclaimDeadLease(control: Redis, db: number): Promise<boolean> {
  const owner = await control.get(leaseKey(db));
  const pid = Number(owner?.split(":")[0]);
  if (!owner || !Number.isInteger(pid) || pid <= 0 || processAlive(pid)) return false;
  const deleted = await control.eval(
    "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0",
    1,
    leaseKey(db),
    owner,
  );
  return deleted === 1;
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

function releaser(server: ReturnType<typeof redisServer>, db: number, owner: string, redis: Redis) {
  let released: Promise<void> | null = null;
  return (): Promise<void> => {
    released ??= (async () => {
      // The suite may already have closed its client; clean up over a connection of our own.
      redis.disconnect();
      const control = new Redis({ ...server, db, maxRetriesPerRequest: 1 });
      try {
        await control.flushdb();
        await control.select(0);
        // Delete only our own lease: if it expired and another suite took the db, leave theirs alone.
        await control.eval(
          "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0",
          1,
          leaseKey(db),
          owner,
        );
      } finally {
        control.disconnect();
      }
    })();
    return released;
  };
}
