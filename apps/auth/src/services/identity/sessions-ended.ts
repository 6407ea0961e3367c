import type { AuthDeps } from "../../deps.ts";

const endedKey = (userId: string) => `cf:auth:sessions-ended:${userId}`;

/**
 * Ends the user's access tokens issued before now (a password change): revoking the refresh tokens is not
 * enough, since a stolen access token could still mint a new session (switch-tenant, accepting an invitation)
 * for the rest of its life. Kept in Redis as long as such a token can live; tokens of this second stay valid
 * (the new login that follows a change may be in it).
 */
export async function endAccessTokens(deps: Pick<AuthDeps, "redis" | "env">, userId: string): Promise<void> {
  const nowS = Math.floor(Date.now() / 1000);
  await deps.redis.set(endedKey(userId), String(nowS), "PX", (deps.env.ACCESS_TOKEN_TTL_S + 60) * 1000);
}

/** Whether an access token of the user issued at `issuedAtS` (epoch s) was ended by `endAccessTokens`. */
export async function accessTokenEnded(
  deps: Pick<AuthDeps, "redis">,
  userId: string,
  issuedAtS: number,
): Promise<boolean> {
  const endedAt = await deps.redis.get(endedKey(userId));
  return endedAt !== null && issuedAtS < Number(endedAt);
}
