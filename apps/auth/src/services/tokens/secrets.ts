import { createHash, timingSafeEqual } from "node:crypto";
import { generateApiKeySecret } from "@cloudfreedom/shared";

/** SHA-256 hex of a bearer secret (refresh tokens, invitation tokens): only this is stored. */
export function hashSecret(secret: string): string {
  return createHash("sha256").update(secret).digest("hex");
}

/** A new opaque secret with ~190 bits of entropy, e.g. `cfr_<32 base62>`. */
export function newSecret(prefix: "cfr" | "cfi"): string {
  return generateApiKeySecret(prefix);
}

/** Constant-time equality of two strings of any length (compares their digests). */
export function secretsEqual(a: string, b: string): boolean {
  const left = createHash("sha256").update(a).digest();
  const right = createHash("sha256").update(b).digest();
  return timingSafeEqual(left, right) && a.length === b.length;
}
