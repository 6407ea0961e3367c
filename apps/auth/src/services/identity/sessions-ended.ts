import { endAccessTokens } from "@cloudfreedom/keyring";
import type { AuthDeps } from "../../deps.ts";

/**
 * Ends the user's access tokens issued before now (a password change, an account reclaim): revoking the refresh
 * tokens is not enough, since a stolen access token could still mint a new session (switch-tenant, accepting an
 * invitation) or act on billing for the rest of its life. Every service that takes access tokens checks it.
 */
export function endUserAccessTokens(deps: Pick<AuthDeps, "redis" | "env">, userId: string): Promise<void> {
  return endAccessTokens(deps.redis, userId, (deps.env.ACCESS_TOKEN_TTL_S + 60) * 1000);
}
