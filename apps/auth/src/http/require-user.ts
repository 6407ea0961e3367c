import { sessionMembership } from "@cloudfreedom/keyring";
import { jwtAuth } from "@cloudfreedom/service-kit";
import { AppError, Tier } from "@cloudfreedom/shared";
import type { MiddlewareHandler } from "hono";
import type { AuthDeps } from "../deps.ts";
import type { Actor } from "../services/members/roles.ts";

declare module "hono" {
  interface ContextVariableMap {
    actor: Actor;
  }
}

/**
 * Bearer access token → `actor`. The signature is checked against this service's keys (no network); the role is
 * then read from the membership as it is now, so a removed or demoted member loses access at once rather than when
 * the token expires, and a password change ends the tokens issued before it.
 */
export function requireUser(deps: AuthDeps): MiddlewareHandler {
  const verify = jwtAuth({ keys: deps.signing.getKey, issuer: deps.issuer, algorithms: ["ES256"] });
  return (c, next) =>
    verify(c, async () => {
      const claims = c.get("auth");
      if (!claims) throw new AppError("unauthorized", "Invalid access token");
      const membership = await sessionMembership(deps.db, deps.redis, claims);
      const tier = Tier.safeParse(claims.tier);
      c.set("actor", {
        userId: claims.sub,
        tenantId: claims.tenant,
        role: membership.role,
        tier: tier.success ? tier.data : "free",
        membershipId: membership.id,
      });
      await next();
    });
}
