import type { Db, MembershipRow } from "@cloudfreedom/db";
import { AppError, redisKeys } from "@cloudfreedom/shared";
import type { Redis } from "ioredis";

/**
 * Access tokens are short-lived JWTs that every service verifies on its own, so two facts that change before a
 * token expires are read per request from where auth keeps them: whether the user's sessions were ended (a
 * password change, an account reclaim) after the token was issued, and the membership (role) as it is now.
 */

/** The token's issue time in ms: auth's `iat_ms` claim, else the start of its `iat` second (older tokens). */
export function issuedAtMs(claims: Readonly<Record<string, unknown>>): number {
  if (typeof claims.iat_ms === "number" && Number.isFinite(claims.iat_ms)) return claims.iat_ms;
  return Number(claims.iat ?? 0) * 1000;
}

/**
 * Ends the user's access tokens issued before now. Kept as long as such a token can live (`ttlMs`); a token
 * issued after this call (the session that follows the change) stays valid, to the millisecond.
 */
export async function endAccessTokens(redis: Redis, userId: string, ttlMs: number): Promise<void> {
  const now = Date.now();
  // The seconds key too, for auth replicas of a release before `iat_ms` during a rolling deploy: they read
  // it as seconds, and it never ends more than the milliseconds one does.
  await Promise.all([
    redis.set(redisKeys.sessionsEndedMs(userId), String(now), "PX", ttlMs),
    redis.set(redisKeys.sessionsEnded(userId), String(Math.floor(now / 1000)), "PX", ttlMs),
  ]);
}

/**
 * Whether an access token of the user issued at `issuedAt` (epoch ms) was ended by `endAccessTokens`, or by an
 * earlier release's auth (which writes the seconds key only).
 */
export async function accessTokenEnded(redis: Redis, userId: string, issuedAt: number): Promise<boolean> {
  const [ms, seconds] = await Promise.all([
    redis.get(redisKeys.sessionsEndedMs(userId)),
    redis.get(redisKeys.sessionsEnded(userId)),
  ]);
  return (ms !== null && issuedAt < Number(ms)) || (seconds !== null && issuedAt < Number(seconds) * 1000);
}

/** The user's membership in a tenant as it is now, or null. */
export function membershipOf(db: Db, tenantId: string, userId: string): Promise<MembershipRow | null> {
  return db
    .forTenant(tenantId)
    .collection("memberships")
    .getFirst({ filter: "user = {:user}", params: { user: userId } });
}

/**
 * The membership an access token acts through, as it is now (both look-ups at once): refuses (401) a token whose
 * sessions were ended after it was issued, or whose membership is gone. Auth and billing both admit with it.
 */
export async function sessionMembership(
  db: Db,
  redis: Redis,
  claims: Readonly<Record<string, unknown>> & { sub: string; tenant: string },
): Promise<MembershipRow> {
  const [ended, membership] = await Promise.all([
    accessTokenEnded(redis, claims.sub, issuedAtMs(claims)),
    membershipOf(db, claims.tenant, claims.sub),
  ]);
  if (ended)
    throw new AppError(
      "unauthorized",
      "This session was ended (password changed or account reclaimed); log in again",
    );
  if (!membership)
    throw new AppError("unauthorized", "This session's tenant membership no longer exists; log in again");
  return membership;
}
