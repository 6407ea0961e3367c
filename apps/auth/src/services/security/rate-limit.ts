import { createHash } from "node:crypto";
import { AppError } from "@cloudfreedom/shared";
import type { Redis } from "ioredis";

// INCR and, on the first hit of a window, PEXPIRE: atomic, so a crash between them cannot leave a key without TTL.
const HIT = `
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
return {n, redis.call('PTTL', KEYS[1])}`;

export interface Limit {
  /** e.g. `login:ip`, `key-create:user`. */
  name: string;
  /** IP, user id or e-mail: hashed before it becomes part of a Redis key. */
  subject: string;
  max: number;
  windowMs: number;
}

const keyOf = (limit: Pick<Limit, "name" | "subject">) =>
  `cf:auth:rl:${limit.name}:${createHash("sha256").update(limit.subject.toLowerCase()).digest("hex").slice(0, 32)}`;

function refuse(limit: Limit, ttlMs: number): AppError {
  const retryAfter = Math.max(1, Math.ceil(ttlMs / 1000));
  return new AppError(
    "too_many_attempts",
    `Too many attempts; try again in ${retryAfter} s`,
    { limit: limit.name, retry_after_s: retryAfter },
    { "retry-after": String(retryAfter) },
  );
}

/** Counts one attempt in a fixed window; throws `too_many_attempts` (429, Retry-After) past `max`. */
export async function hitLimit(redis: Redis, limit: Limit): Promise<void> {
  const [count, ttl] = (await redis.eval(HIT, 1, keyOf(limit), String(limit.windowMs))) as [number, number];
  if (count > limit.max) throw refuse(limit, ttl);
}

export async function clearLimit(redis: Redis, limit: Pick<Limit, "name" | "subject">): Promise<void> {
  await redis.del(keyOf(limit));
}
