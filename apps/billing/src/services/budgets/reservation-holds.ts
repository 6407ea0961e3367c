import type { SettleRequest } from "@cloudfreedom/admission";
import { redisKeys } from "@cloudfreedom/shared";
import type { Redis } from "ioredis";

/**
 * A reservation made through `POST /v1/budget/check` is released by presenting its hold (as admission stored
 * it) at settlement. The caller only gets the reservation id, so the hold is kept here, beside the tenant's
 * other admission keys, for the reservation's lifetime; the worker looks it up when the usage report that
 * names the reservation is settled.
 */
const holdKey = (tenantId: string, reservationId: string) =>
  redisKeys.tenant(tenantId, "billing-hold", reservationId);

export async function rememberHold(
  redis: Redis,
  tenantId: string,
  reservationId: string,
  hold: string,
  ttlMs: number,
): Promise<void> {
  // A minute past the reservation's deadline: a report that arrives just in time still finds it.
  await redis.set(holdKey(tenantId, reservationId), hold, "PX", ttlMs + 60_000);
}

/** The hold remembered for a reservation of `POST /v1/budget/check`; null once it expired or for an unknown id. */
export function rememberedHold(
  redis: Redis,
  tenantId: string,
  reservationId: string,
): Promise<string | null> {
  return redis.get(holdKey(tenantId, reservationId));
}

/** Adds the remembered holds to the settlements marked in `lookUp` (one pipelined round trip, if any). */
export async function withRememberedHolds(
  redis: Redis,
  requests: SettleRequest[],
  lookUp: boolean[],
): Promise<SettleRequest[]> {
  const wanted = requests.flatMap((req, i) => (lookUp[i] && !req.hold ? [i] : []));
  if (wanted.length === 0) return requests;
  const pipeline = redis.pipeline();
  for (const i of wanted) {
    const req = requests[i];
    if (req) pipeline.get(holdKey(req.tenantId, req.reservationId));
  }
  const replies = (await pipeline.exec()) ?? [];
  const out = [...requests];
  wanted.forEach((i, j) => {
    const [error, hold] = replies[j] ?? [null, null];
    const req = out[i];
    if (req && !error && typeof hold === "string") out[i] = { ...req, hold };
  });
  return out;
}
