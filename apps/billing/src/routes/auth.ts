import { sessionMembership } from "@cloudfreedom/keyring";
import { jwtAuth } from "@cloudfreedom/service-kit";
import { AppError } from "@cloudfreedom/shared";
import type { MiddlewareHandler } from "hono";
import type { JWTVerifyGetKey } from "jose";
import type { BillingDeps } from "../deps.ts";
import { bearerToken, isOperatorToken, looksLikeJwt } from "../services/auth/operator-token.ts";
import "../services/auth/principal.ts";
import { resolveApiKey } from "../services/auth/resolve-api-key.ts";

export interface AuthOptions {
  /** Verify access tokens with these keys instead of fetching JWKS_URL (tests). */
  jwtKeys?: JWTVerifyGetKey;
}

/**
 * `Authorization: Bearer <token>`: the operator token, an access token (JWT, verified against the auth
 * service's JWKS) or an API key with the `billing` (or `admin`) scope. Sets `principal` and `tenantId`.
 * An access token lives for minutes, so what can change meanwhile is read as it is now, as auth does: its
 * sessions may have been ended (password change, account reclaim) and the role is the membership's, so a
 * removed or demoted member loses billing rights at once.
 */
export function billingAuth(deps: BillingDeps, options: AuthOptions = {}): MiddlewareHandler {
  const { env } = deps;
  const jwt =
    options.jwtKeys || env.JWKS_URL
      ? jwtAuth({
          ...(options.jwtKeys ? { keys: options.jwtKeys } : { jwksUrl: env.JWKS_URL }),
          ...(env.JWT_ISSUER ? { issuer: env.JWT_ISSUER } : {}),
          ...(env.JWT_AUDIENCE ? { audience: env.JWT_AUDIENCE } : {}),
        })
      : null;

  return async (c, next) => {
    const token = bearerToken(c.req.header("authorization"));
    if (!token) {
      throw new AppError(
        "unauthorized",
        "Missing credentials; send Authorization: Bearer <API key or access token>",
      );
    }
    if (isOperatorToken(token, env.OPERATOR_TOKEN)) {
      c.set("principal", { kind: "operator" });
      return next();
    }
    if (looksLikeJwt(token)) {
      if (!jwt)
        throw new AppError("unauthorized", "Access tokens are not accepted here (JWKS_URL is not set)");
      return jwt(c, async () => {
        const claims = c.get("auth");
        if (!claims) throw new AppError("unauthorized", "Invalid access token");
        const membership = await sessionMembership(deps.db, deps.redis, claims);
        c.set("principal", {
          kind: "user",
          tenantId: claims.tenant,
          userId: claims.sub,
          role: membership.role,
        });
        await next();
      });
    }
    const record = await resolveApiKey(deps.redis, token);
    if (!record.scopes.includes("billing") && !record.scopes.includes("admin")) {
      throw new AppError(
        "forbidden",
        'This API key lacks the "billing" scope; use a key created with "scopes" including "billing" (or an access token)',
        { scope: "billing" },
      );
    }
    c.set("principal", {
      kind: "key",
      tenantId: record.tenant_id,
      keyId: record.key_id,
      userId: record.user_id,
      record,
    });
    c.set("tenantId", record.tenant_id);
    await next();
  };
}
