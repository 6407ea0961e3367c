import type { Tier } from "@cloudfreedom/shared";
import { SignJWT } from "jose";
import type { AuthDeps } from "../../deps.ts";
import type { Role } from "../members/roles.ts";

export interface AccessClaims {
  sub: string;
  tenant: string;
  role: Role;
  tier: Tier;
}

/** A short-lived ES256 access token with `kid`, verified by every service through the JWKS. */
export async function signAccessToken(
  deps: AuthDeps,
  claims: AccessClaims,
  ttlSeconds = deps.env.ACCESS_TOKEN_TTL_S,
) {
  const { kid, privateKey } = deps.signing.signer();
  const nowMs = Date.now();
  const now = Math.floor(nowMs / 1000);
  // `iat_ms`: sessions ended by a password change or a reclaim end the tokens issued before it to the
  // millisecond (`iat` has whole seconds), so the session that follows in the same second stays valid alone.
  const token = await new SignJWT({
    tenant: claims.tenant,
    role: claims.role,
    tier: claims.tier,
    iat_ms: nowMs,
  })
    .setProtectedHeader({ alg: "ES256", kid, typ: "JWT" })
    .setSubject(claims.sub)
    .setIssuer(deps.issuer)
    .setIssuedAt(now)
    .setExpirationTime(now + ttlSeconds)
    .setJti(crypto.randomUUID())
    .sign(privateKey);
  return { token, expiresIn: ttlSeconds };
}
