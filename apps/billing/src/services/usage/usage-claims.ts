import { createHash } from "node:crypto";
import { redisKeys } from "@cloudfreedom/shared";
import type { Redis } from "ioredis";

/**
 * How long a report is remembered, by its Idempotency-Key and by its reservation: past the usage job's retries
 * (DURABLE_JOB_OPTIONS, about a day and a half), after which a reservation's stored row refuses a second report.
 * A replay (same key, same body) within this window is recognised by either claim.
 */
const CLAIM_TTL_S = 48 * 60 * 60;

const idempotencyKeyOf = (tenantId: string, idempotencyKey: string) =>
  redisKeys.tenant(tenantId, "usage-idem", digest(idempotencyKey));

const reservationKeyOf = (tenantId: string, reservationId: string) =>
  redisKeys.tenant(tenantId, "usage-rsv", reservationId);

const digest = (text: string) => createHash("sha256").update(text).digest("hex");

// One script, so a report claims its Idempotency-Key and its reservation together or not at all: of two
// concurrent reports naming one reservation, exactly one gets it, and a refused report leaves no trace (its
// key stays free). The reservation's claim holds the report's identity (key digest and body fingerprint), so
// a replay is recognised by it too once the key's claim is gone, and a replay re-takes a claim released
// after a failed enqueue. Both keys carry the tenant's hash tag: one Cluster slot.
// KEYS: 1 the Idempotency-Key's claim, 2 the reservation's claim (absent: the report names none)
// ARGV: 1 the body's fingerprint, 2 the report's identity, 3 claim TTL s,
//       4 '1' when usage_logs already holds the reservation's row
const CLAIM_LUA = `
local seen = redis.call('GET', KEYS[1])
if seen and seen ~= ARGV[1] then return 'key_conflict' end
if KEYS[2] then
  local holder = redis.call('GET', KEYS[2])
  if holder and holder ~= ARGV[2] then return 'reported' end
  if not holder and not seen and ARGV[4] == '1' then return 'reported' end
  redis.call('SET', KEYS[2], ARGV[2], 'EX', ARGV[3])
  if holder then seen = ARGV[1] end
end
redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[3])
if seen then return 'replayed' end
return 'claimed'
`;

// Compare-and-delete: only the report that holds the claim frees it.
const RELEASE_LUA = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`;

export type UsageClaim =
  | { kind: "claimed" }
  | { kind: "replayed" }
  /** The Idempotency-Key was used with another body. */
  | { kind: "key_conflict" }
  /** The reservation's usage was reported already, under another Idempotency-Key or body. */
  | { kind: "reported" };

export interface UsageClaimInput {
  tenantId: string;
  idempotencyKey: string;
  /** Digest of the report's body: the same key with the same body is a replay. */
  fingerprint: string;
  reservationId: string | null;
  /** usage_logs already holds the reservation's row (the durable record, should Redis have lost the claim). */
  stored: boolean;
}

/** What a reservation's claim holds: which report took it (the key's digest and the body's fingerprint). */
const identityOf = (input: Pick<UsageClaimInput, "idempotencyKey" | "fingerprint">) =>
  `${digest(input.idempotencyKey)}|${input.fingerprint}`;

/** Claims a usage report's Idempotency-Key and, when it names one, its reservation, atomically. */
export async function claimUsageReport(redis: Redis, input: UsageClaimInput): Promise<UsageClaim> {
  const keys = [idempotencyKeyOf(input.tenantId, input.idempotencyKey)];
  if (input.reservationId) keys.push(reservationKeyOf(input.tenantId, input.reservationId));
  const kind = String(
    await redis.eval(
      CLAIM_LUA,
      keys.length,
      ...keys,
      input.fingerprint,
      identityOf(input),
      CLAIM_TTL_S,
      input.stored ? "1" : "0",
    ),
  );
  if (kind === "claimed" || kind === "replayed" || kind === "key_conflict" || kind === "reported")
    return { kind };
  throw new Error(`unexpected usage claim reply: ${JSON.stringify(kind)}`);
}

/** Frees the reservation a report claimed but could not queue, so a retry under another key is not refused. */
export async function releaseReservationClaim(
  redis: Redis,
  input: Pick<UsageClaimInput, "tenantId" | "idempotencyKey" | "fingerprint"> & { reservationId: string },
): Promise<void> {
  await redis.eval(RELEASE_LUA, 1, reservationKeyOf(input.tenantId, input.reservationId), identityOf(input));
}
