import { randomUUID } from "node:crypto";
import type { Redis } from "ioredis";

/** Deletes the lock only while it still holds this holder's token (a lock that outlived its ttl is someone else's). */
const RELEASE_IF_HELD =
  "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0";

/** `lost`: the lock had expired before the work finished (another holder may have run meanwhile). */
export type Locked<T> = { held: true; value: T; lost: boolean } | { held: false };

/**
 * Runs `work` while this process holds `key` across replicas (`SET key <token> NX PX ttlMs`), and releases it
 * after, whether `work` succeeded or threw; `{ held: false }` without running it when another holder has it,
 * at once or (`waitMs`) after trying again every `pollMs` for that long.
 * The ttl frees the lock of a holder that crashed; it must be well above what `work` takes, since a holder
 * that outlives it no longer excludes anyone (`lost` says so).
 */
export async function withLock<T>(
  redis: Redis,
  key: string,
  ttlMs: number,
  work: () => Promise<T>,
  wait: { waitMs: number; pollMs: number } = { waitMs: 0, pollMs: 0 },
): Promise<Locked<T>> {
  const token = randomUUID();
  const deadline = Date.now() + wait.waitMs;
  while ((await redis.set(key, token, "PX", Math.max(1, Math.ceil(ttlMs)), "NX")) !== "OK") {
    if (Date.now() + wait.pollMs > deadline) return { held: false };
    await new Promise((resolve) => setTimeout(resolve, wait.pollMs));
  }
  // Resolves true when the lock was no longer ours to release; a failed release is left to the ttl.
  const release = () =>
    redis.eval(RELEASE_IF_HELD, 1, key, token).then(
      (deleted) => deleted === 0,
      () => false,
    );
  let value: T;
  try {
    value = await work();
  } catch (error) {
    await release();
    throw error;
  }
  return { held: true, value, lost: await release() };
}
