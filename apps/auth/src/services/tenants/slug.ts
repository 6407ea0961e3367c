import { AppError, RESERVED_SLUGS } from "@cloudfreedom/shared";

export { RESERVED_SLUGS } from "@cloudfreedom/shared";

/** One DNS label: lowercase letters, digits and inner dashes, 3..63 characters. */
export const SLUG_PATTERN = /^[a-z0-9](?:[a-z0-9-]{1,61}[a-z0-9])$/;

export function assertValidSlug(slug: string, field = "slug"): void {
  if (!SLUG_PATTERN.test(slug)) {
    throw new AppError(
      "validation_failed",
      `${field}: must be 3-63 lowercase letters, digits or inner dashes (a DNS label)`,
      { field },
    );
  }
  if (RESERVED_SLUGS.has(slug)) {
    throw new AppError("validation_failed", `${field}: "${slug}" is reserved by the platform`, {
      field,
      reason: "reserved",
    });
  }
}

function randomSuffix(length: number): string {
  const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789";
  return Array.from(crypto.getRandomValues(new Uint8Array(length)), (byte) => alphabet[byte % 36]).join("");
}

/** A personal tenant's slug from an e-mail: `ada-lovelace-x7k2p9` (never reserved, always a valid label). */
export function slugFromEmail(email: string): string {
  const base = (email.split("@")[0] ?? "")
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, "-")
    .replace(/^-+|-+$/g, "")
    .slice(0, 40);
  return `${base || "tenant"}-${randomSuffix(6)}`;
}

/** A record id with our prefix convention (`^[a-z0-9_]+$`), made here so one batch can link new rows. */
export function newRecordId(prefix: string): string {
  return `${prefix}_${randomSuffix(15)}`;
}
