import { createHash } from "node:crypto";
import { redisKeys } from "@cloudfreedom/shared";
import type { Redis } from "ioredis";

/** How long an Idempotency-Key is remembered: a retry within a day replays, a key cannot mean two reports. */
const IDEMPOTENCY_TTL_S = 24 * 60 * 60;
/**
 * How long a reservation stays claimed by its report: past the usage job's retries (DURABLE_JOB_OPTIONS, about
 * a day and a half), after which its row is stored and the stored row refuses a second report instead.
 */
const RESERVATION_CLAIM_TTL_S = 48 * 60 * 60;

const idempotencyKeyOf = (tenantId: string, idempotencyKey: string) =>
  redisKeys.tenant(tenantId, "usage-idem", createHash("sha256").update(idempotencyKey).digest("hex"));

const reservationKeyOf = (tenantId: string, reservationId: string) =>
  redisKeys.tenant(tenantId, "usage-rsv", reservationId);

// One script, so a report claims its Idempotency-Key and its reservation together or not at all: of two
// concurrent reports naming one reservation, exactly one gets it, and a refused report leaves no trace (its
// key stays free). Both keys carry the tenant's hash tag: one Cluster slot.
// KEYS: 1 the Idempotency-Key's claim, 2 the reservation's claim (absent: the report names none)
// ARGV: 1 the body's fingerprint, 2 the event id, 3 key TTL s, 4 reservation TTL s,
//       5 '1' when usage_logs already holds the reservation's row
const CLAIM_LUA = `
local seen = redis.call('GET', KEYS[1])
if seen then
  if seen == ARGV[1] then return {'replayed'} end
  return {'key_conflict'}
end
if KEYS[2] then
  local holder = redis.call('GET', KEYS[2])
  if holder then return {'reported', holder} end
  if ARGV[5] == '1' then return {'reported', ARGV[2]} end
  redis.call('SET', KEYS[2], ARGV[2], 'EX', ARGV[4])
end
redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[3])
return {'claimed'}
`;

export type UsageClaim =
  | { kind: "claimed" }
  | { kind: "replayed" }
  /** The Idempotency-Key was used with another body. */
  | { kind: "key_conflict" }
  /** The reservation's usage was reported under another Idempotency-Key, as `eventId`. */
  | { kind: "reported"; eventId: string };

export interface UsageClaimInput {
  tenantId: string;
  idempotencyKey: string;
  /** Digest of the report's body: the same key with the same body is a replay. */
  fingerprint: string;
  eventId: string;
  reservationId: string | null;
  /** usage_logs already holds the reservation's row (the durable record, should Redis have lost the claim). */
  stored: boolean;
}

/** Claims a usage report's Idempotency-Key and, when it names one, its reservation, atomically. */
export async function claimUsageReport(redis: Redis, input: UsageClaimInput): Promise<UsageClaim> {
  const keys = [idempotencyKeyOf(input.tenantId, input.idempotencyKey)];
  if (input.reservationId) keys.push(reservationKeyOf(input.tenantId, input.reservationId));
  const reply = await redis.eval(
    CLAIM_LUA,
    keys.length,
    ...keys,
    input.fingerprint,
    input.eventId,
    IDEMPOTENCY_TTL_S,
    RESERVATION_CLAIM_TTL_S,
    input.stored ? "1" : "0",
  );
  const [kind, holder] = Array.isArray(reply) ? reply.map(String) : [];
  if (kind === "claimed" || kind === "replayed" || kind === "key_conflict") return { kind };
  if (kind === "reported") return { kind, eventId: holder ?? input.eventId };
  throw new Error(`unexpected usage claim reply: ${JSON.stringify(reply)}`);
}

/** Frees a reservation claimed by a report that could not be queued, so a retry under another key is not refused. */
export async function releaseReservationClaim(
  redis: Redis,
  tenantId: string,
  reservationId: string,
): Promise<void> {
  await redis.del(reservationKeyOf(tenantId, reservationId));
}
