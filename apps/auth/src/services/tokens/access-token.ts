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
  const now = Math.floor(Date.now() / 1000);
  const token = await new SignJWT({ tenant: claims.tenant, role: claims.role, tier: claims.tier })
    .setProtectedHeader({ alg: "ES256", kid, typ: "JWT" })
    .setSubject(claims.sub)
    .setIssuer(deps.issuer)
    .setIssuedAt(now)
    .setExpirationTime(now + ttlSeconds)
    .setJti(crypto.randomUUID())
    .sign(privateKey);
  return { token, expiresIn: ttlSeconds };
}
