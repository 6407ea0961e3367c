import { z } from "zod";

/** Id prefixes say what an id is in any log line (CONVENTIONS.md). */
export const ID_PREFIXES = {
  tenant: "tnt",
  user: "usr",
  key: "key",
  request: "req",
  event: "evt",
  reservation: "rsv",
  trace: "trc",
  span: "spn",
  job: "job",
} as const;
export type IdKind = keyof typeof ID_PREFIXES;
export type IdPrefix = (typeof ID_PREFIXES)[IdKind];

const ALPHABET = "0123456789abcdefghijklmnopqrstuvwxyz";

/** Random bytes drawn from a pool refilled 4 KB at a time: one `getRandomValues` call per ~100 ids. */
const pool = new Uint8Array(4096);
let poolAt = pool.length;
function randomByte(): number {
  if (poolAt === pool.length) {
    crypto.getRandomValues(pool);
    poolAt = 0;
  }
  return pool[poolAt++] as number;
}

const HEX = "0123456789abcdef";

/** `bytes` random bytes as lowercase hex (trace and span ids), from the same pool as the ids. */
export function randomHex(bytes: number): string {
  let out = "";
  for (let i = 0; i < bytes; i++) {
    const byte = randomByte();
    out += HEX.charAt(byte >> 4) + HEX.charAt(byte & 15);
  }
  return out;
}

/** Random base36 body; `crypto.getRandomValues` exists in Node, Bun and browsers. */
function randomBody(length: number): string {
  let out = "";
  while (out.length < length) {
    const byte = randomByte();
    // 252 = 36 * 7: rejecting bytes at or above it keeps every character equally likely.
    if (byte < 252) out += ALPHABET[byte % 36];
  }
  return out;
}

/** Milliseconds since the epoch in base 36, 9 characters (good until the year 5188). */
const TIME_CHARS = 9;

/**
 * A prefixed id. From 16 characters on, the body starts with the creation time (ms, base 36) and ends with
 * random characters (11 of the default 20: 36^11 per millisecond), like a ULID: ids sort by creation, so the
 * indexes that hold them (usage_logs' event_id and request_id, the settled-reservation sets) grow at their end
 * instead of at random places, which keeps inserts into large tables cheap. Shorter ids are all random.
 */
export function newId(kind: IdKind, length = 20): string {
  if (length < 16) return `${ID_PREFIXES[kind]}_${randomBody(length)}`;
  const time = Date.now().toString(36).padStart(TIME_CHARS, "0");
  return `${ID_PREFIXES[kind]}_${time}${randomBody(length - TIME_CHARS)}`;
}

export function prefixedId(kind: IdKind) {
  const prefix = ID_PREFIXES[kind];
  return z
    .string()
    .regex(new RegExp(`^${prefix}_[0-9A-Za-z]{8,64}$`), { message: `must be a ${kind} id (${prefix}_…)` });
}

/** Request ids: accept a caller's id when it is sane, otherwise mint one. */
const REQUEST_ID_PATTERN = /^[0-9A-Za-z._:-]{1,128}$/;
export function acceptRequestId(candidate: string | null | undefined): string {
  return candidate && REQUEST_ID_PATTERN.test(candidate) ? candidate : newId("request");
}
