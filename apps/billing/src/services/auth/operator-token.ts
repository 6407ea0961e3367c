import { timingSafeEqual } from "node:crypto";

/** Constant-time comparison, so response times do not reveal how much of the token matched. */
export function isOperatorToken(candidate: string, configured: string | undefined): boolean {
  if (!configured) return false;
  const a = Buffer.from(candidate);
  const b = Buffer.from(configured);
  return a.length === b.length && timingSafeEqual(a, b);
}

/** Three base64url segments: an access token, not an API key. */
export function looksLikeJwt(token: string): boolean {
  return /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/.test(token);
}

export function bearerToken(header: string | undefined): string | undefined {
  const match = header ? /^Bearer\s+(\S+)$/i.exec(header.trim()) : null;
  return match?.[1];
}
