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
  /** What is counted, for the refusal: "sign-ups from this address", "failed log-ins of this account"… */
  what: string;
  /** The setting that raises `max`, named in the refusal. */
  setting?: string;
}

const keyOf = (limit: Pick<Limit, "name" | "subject">) =>
  `cf:auth:rl:${limit.name}:${createHash("sha256").update(limit.subject.toLowerCase()).digest("hex").slice(0, 32)}`;

function windowText(ms: number): string {
  if (ms % 3_600_000 === 0) return ms === 3_600_000 ? "hour" : `${ms / 3_600_000} hours`;
  if (ms % 60_000 === 0) return ms === 60_000 ? "minute" : `${ms / 60_000} minutes`;
  return `${Math.ceil(ms / 1000)} s`;
}

function refuse(limit: Limit, ttlMs: number): AppError {
  const retryAfter = Math.max(1, Math.ceil(ttlMs / 1000));
  const setting = limit.setting ? ` (${limit.setting})` : "";
  return new AppError(
    "too_many_attempts",
    `Too many ${limit.what}: at most ${limit.max} per ${windowText(limit.windowMs)}${setting}; try again in ${retryAfter} s`,
    {
      limit: limit.name,
      max: limit.max,
      window_s: Math.ceil(limit.windowMs / 1000),
      retry_after_s: retryAfter,
    },
    { "retry-after": String(retryAfter) },
  );
}

/**
 * The subject of a per-address limit: an IPv4 address as it is, an IPv6 one as its /64 (one host usually has a
 * whole /64, so counting single addresses would let it step around the limit).
 */
export function addressSubject(ip: string): string {
  const address = ip.split("%")[0] ?? ip;
  if (!address.includes(":")) return address;
  const mapped = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i.exec(address);
  if (mapped?.[1]) return mapped[1];
  const [head = "", tail] = address.split("::");
  const front = head ? head.split(":") : [];
  const back = tail ? tail.split(":") : [];
  const groups =
    tail === undefined
      ? front
      : [...front, ...Array(Math.max(0, 8 - front.length - back.length)).fill("0"), ...back];
  const prefix = groups.slice(0, 4).map((group) => (Number.parseInt(group, 16) || 0).toString(16));
  return `${prefix.join(":")}::/64`;
}

/** Counts one attempt in a fixed window; throws `too_many_attempts` (429, Retry-After) past `max`. */
export async function hitLimit(redis: Redis, limit: Limit): Promise<void> {
  const [count, ttl] = (await redis.eval(HIT, 1, keyOf(limit), String(limit.windowMs))) as [number, number];
  if (count > limit.max) throw refuse(limit, ttl);
}

export async function clearLimit(redis: Redis, limit: Pick<Limit, "name" | "subject">): Promise<void> {
  await redis.del(keyOf(limit));
}
