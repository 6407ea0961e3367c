import { AppError } from "@cloudfreedom/shared";
import type { MiddlewareHandler } from "hono";
import { createRemoteJWKSet, type JWTVerifyGetKey, errors as joseErrors, jwtVerify } from "jose";
import { z } from "zod";
import "./context.ts";

const Claims = z.object({
  sub: z.string().min(1),
  tenant: z.string().min(1),
  role: z.string().min(1),
  tier: z.string().min(1),
});

export interface JwtAuthOptions {
  /** The auth service's `/.well-known/jwks.json`. Keys are cached and refetched on an unknown `kid`. */
  jwksUrl?: string;
  /** Inject a key resolver instead of a URL (tests, or a local JWKS). */
  keys?: JWTVerifyGetKey;
  issuer?: string;
  audience?: string;
  algorithms?: string[];
}

/**
 * Verifies `Authorization: Bearer <jwt>` against the auth service's JWKS, locally: no call to auth per
 * request. Sets `auth` (claims) and `tenantId` on the context.
 */
export function jwtAuth(options: JwtAuthOptions): MiddlewareHandler {
  const keys = options.keys ?? (options.jwksUrl ? createRemoteJWKSet(new URL(options.jwksUrl)) : undefined);
  if (!keys) throw new Error("jwtAuth needs jwksUrl or keys");
  const algorithms = options.algorithms ?? ["ES256", "EdDSA"];

  return async (c, next) => {
    const header = c.req.header("authorization");
    const token = header?.startsWith("Bearer ") ? header.slice(7).trim() : undefined;
    if (!token)
      throw new AppError("unauthorized", "Missing bearer token; send Authorization: Bearer <token>");
    let payload: unknown;
    try {
      ({ payload } = await jwtVerify(token, keys, {
        algorithms,
        ...(options.issuer ? { issuer: options.issuer } : {}),
        ...(options.audience ? { audience: options.audience } : {}),
      }));
    } catch (error) {
      if (error instanceof joseErrors.JWTExpired)
        throw new AppError("token_expired", "Access token expired; refresh it");
      if (error instanceof joseErrors.JOSEError && !(error instanceof joseErrors.JWKSTimeout)) {
        // Not a JWT at all: most often an API key sent where a user's session is wanted.
        if (token.split(".").length !== 3)
          throw new AppError(
            "unauthorized",
            "Expected an access token (the JWT that POST /v1/auth/login answers), not an API key or other secret",
          );
        throw new AppError(
          "unauthorized",
          "Invalid access token (its signature, issuer or claims do not check out): log in again with POST /v1/auth/login",
        );
      }
      throw new AppError(
        "service_unavailable",
        "Cannot verify tokens right now (JWKS unreachable); retry shortly",
      );
    }
    const claims = Claims.passthrough().safeParse(payload);
    if (!claims.success) throw new AppError("unauthorized", "Access token lacks required claims");
    c.set("auth", claims.data);
    c.set("tenantId", claims.data.tenant);
    await next();
  };
}
