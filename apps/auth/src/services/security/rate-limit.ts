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
 * The subject of a per-address limit: an IPv4 address as it is (also when written as IPv6: `::ffff:a.b.c.d`,
 * its hex form, `::a.b.c.d`), an IPv6 one as its /64 (one host usually has a whole /64, so counting single
 * addresses would let it step around the limit). What is not an address is counted as it is.
 */
export function addressSubject(ip: string): string {
  const address = (ip.split("%")[0] ?? ip).replace(/^\[|\]$/g, "").toLowerCase();
  if (!address.includes(":")) return address;
  const halves = address.split("::");
  if (halves.length > 2) return address;
  const parts = (half: string | undefined) => (half ? half.split(":") : []);
  const hex = (groups: string[]): number[] | null => {
    const out: number[] = [];
    for (const [i, group] of groups.entries()) {
      // A dotted IPv4 may end the address: two groups.
      if (i === groups.length - 1 && group.includes(".")) {
        const octets = group.split(".").map(Number);
        if (octets.length !== 4 || octets.some((o) => !Number.isInteger(o) || o < 0 || o > 255)) return null;
        out.push(((octets[0] ?? 0) << 8) | (octets[1] ?? 0), ((octets[2] ?? 0) << 8) | (octets[3] ?? 0));
      } else if (/^[0-9a-f]{1,4}$/.test(group)) out.push(Number.parseInt(group, 16));
      else return null;
    }
    return out;
  };
  const front = hex(parts(halves[0]));
  const back = hex(parts(halves[1]));
  if (!front || !back) return address;
  const missing = 8 - front.length - back.length;
  if (halves.length === 1 ? missing !== 0 : missing < 1) return address;
  const groups = [...front, ...Array<number>(Math.max(0, missing)).fill(0), ...back];
  const ipv4 = (g: number[]) =>
    `${(g[6] ?? 0) >> 8}.${(g[6] ?? 0) & 255}.${(g[7] ?? 0) >> 8}.${(g[7] ?? 0) & 255}`;
  const zeros = (from: number, to: number) => groups.slice(from, to).every((g) => g === 0);
  // IPv4-mapped (::ffff:a.b.c.d) and the old IPv4-compatible form (::a.b.c.d, not :: or ::1).
  if (zeros(0, 5) && groups[5] === 0xffff) return ipv4(groups);
  if (zeros(0, 6) && ((groups[6] ?? 0) !== 0 || (groups[7] ?? 0) > 1)) return ipv4(groups);
  return `${groups
    .slice(0, 4)
    .map((g) => g.toString(16))
    .join(":")}::/64`;
}

/** Counts one attempt in a fixed window; throws `too_many_attempts` (429, Retry-After) past `max`. */
export async function hitLimit(redis: Redis, limit: Limit): Promise<void> {
  const [count, ttl] = (await redis.eval(HIT, 1, keyOf(limit), String(limit.windowMs))) as [number, number];
  if (count > limit.max) throw refuse(limit, ttl);
}

export async function clearLimit(redis: Redis, limit: Pick<Limit, "name" | "subject">): Promise<void> {
  await redis.del(keyOf(limit));
}
