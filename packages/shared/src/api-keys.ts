import { KeyRecord, type KeyScope } from "./keys.ts";
import type { Tier } from "./tiers.ts";

/**
 * API key secrets and their hashes. Web Crypto only (`crypto.subtle`, `crypto.getRandomValues`), so the
 * router, auth, tests and a browser all compute the same hash (DESIGN.md §5: SHA-256, lowercase hex).
 */

const BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/** 32 base62 characters carry ~190 bits, well above the 128-bit floor for a bearer secret. */
export const API_KEY_RANDOM_LENGTH = 32;
export const API_KEY_PREFIX_PATTERN = /^[a-z][a-z0-9]*(?:_[a-z0-9]+)*$/;
/** How many leading characters of a secret are stored and shown (`cf_live_AbCd…`) to tell keys apart. */
export const API_KEY_DISPLAY_LENGTH = 12;

function randomBase62(length: number): string {
  let out = "";
  const bytes = new Uint8Array(length * 2);
  while (out.length < length) {
    crypto.getRandomValues(bytes);
    // 248 = 62 * 4: rejecting bytes at or above it keeps every character equally likely.
    for (const byte of bytes) {
      if (byte < 248 && out.length < length) out += BASE62[byte % 62];
    }
  }
  return out;
}

/** A new plaintext secret such as `cf_live_<32 base62>`. Shown once; only its hash is stored. */
export function generateApiKeySecret(prefix = "cf_live"): string {
  if (!API_KEY_PREFIX_PATTERN.test(prefix)) {
    throw new RangeError(`api key prefix must be lowercase words joined by "_": "${prefix}"`);
  }
  return `${prefix}_${randomBase62(API_KEY_RANDOM_LENGTH)}`;
}

/** The non-secret leading part stored beside the hash so admins can recognise a key. */
export function apiKeyDisplayPrefix(secret: string): string {
  return secret.slice(0, API_KEY_DISPLAY_LENGTH);
}

function toHex(buffer: ArrayBuffer): string {
  let hex = "";
  for (const byte of new Uint8Array(buffer)) hex += byte.toString(16).padStart(2, "0");
  return hex;
}

/** SHA-256 of the UTF-8 secret as 64 lowercase hex characters; the key's identity in Redis and storage. */
export async function hashApiKey(secret: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(secret));
  return toHex(digest);
}

export const API_KEY_HASH_PATTERN = /^[0-9a-f]{64}$/;

/** Scopes a key gets when its row names none: the OpenAI-compatible surface, nothing administrative. */
export const DEFAULT_KEY_SCOPES: KeyScope[] = ["chat", "completions", "embeddings", "models"];

type DateLike = string | number | Date | null | undefined;

/** The rows `buildKeyRecord` reads, in PocketBase's encoding: 0 = no limit, "" = empty date or relation. */
export interface KeyRecordSource {
  tenant: { id: string; slug: string; tier: Tier; status?: string };
  /** The tenant's plan; null when it has none (no tenant-level limits). */
  plan: {
    rpm: number;
    tpm: number;
    query_limit: number;
    monthly_budget_micros: number;
    /** Whole percent (20 = +20 %). */
    markup_pct: number;
  } | null;
  key: {
    id: string;
    user?: string | null;
    scopes?: KeyScope[] | null;
    allowed_models?: string[] | null;
    rpm?: number;
    tpm?: number;
    budget_micros?: number;
    expires_at?: DateLike;
    revoked_at?: DateLike;
    /** After a rotation the old key works until then. */
    grace_until?: DateLike;
  };
  /**
   * The tenant's standing budget (`budgets` scope `tenant`, period "default"); it replaces the plan's monthly
   * budget. 0, null or absent = the plan's budget applies.
   */
  tenantBudgetMicros?: number | null;
  /** The key owner's standing budget (`budgets` scope `user`, period "default"); 0, null or absent = none. */
  userBudgetMicros?: number | null;
  /** The anchor day of the tenant's subscription periods (`anchorDayOf`); null or absent = calendar months. */
  periodAnchorDay?: number | null;
}

/** Epoch ms of a PocketBase date ("2026-11-23 10:00:00.000Z"), an ISO string, a Date or ms; "" → null. */
export function dateLikeToMs(value: DateLike): number | null {
  if (value === null || value === undefined || value === "") return null;
  if (typeof value === "number") return value;
  if (value instanceof Date) return value.getTime();
  const ms = Date.parse(value.includes("T") ? value : value.replace(" ", "T"));
  if (Number.isNaN(ms)) throw new RangeError(`not a date: "${value}"`);
  return ms;
}

const limit = (value: number | null | undefined): number | null => (value && value > 0 ? value : null);

/**
 * Tenant + plan + key row (+ standing budgets and the period anchor) → the KeyRecord the router admits requests
 * with (DESIGN.md §5). The tenant's budget is its standing limit, else its plan's monthly budget, as billing's
 * budget check and view count it. The key expires at the earlier of `expires_at` and `grace_until`; a revoked
 * key, or any key of a tenant whose status is not `active`, is marked revoked so the hot path needs no tenant
 * lookup.
 */
export function buildKeyRecord(source: KeyRecordSource): KeyRecord {
  const { tenant, plan, key } = source;
  const ends = [dateLikeToMs(key.expires_at), dateLikeToMs(key.grace_until)].filter((ms) => ms !== null);
  const tenantInactive = tenant.status !== undefined && tenant.status !== "active";
  const userBudget = limit(source.userBudgetMicros);
  return KeyRecord.parse({
    key_id: key.id,
    tenant_id: tenant.id,
    tenant_slug: tenant.slug,
    user_id: key.user ? key.user : null,
    tier: tenant.tier,
    scopes: key.scopes ?? DEFAULT_KEY_SCOPES,
    models: key.allowed_models ?? null,
    rpm: limit(key.rpm),
    tpm: limit(key.tpm),
    budget_micros: limit(key.budget_micros),
    ...(key.user && userBudget !== null ? { user_budget_micros: userBudget } : {}),
    tenant_limits: {
      rpm: limit(plan?.rpm),
      tpm: limit(plan?.tpm),
      query_limit: limit(plan?.query_limit),
      budget_micros: limit(source.tenantBudgetMicros) ?? limit(plan?.monthly_budget_micros),
      markup_pct: plan?.markup_pct ?? 0,
      ...(source.periodAnchorDay ? { period_anchor_day: source.periodAnchorDay } : {}),
    },
    expires_at: ends.length > 0 ? Math.min(...ends) : null,
    revoked: dateLikeToMs(key.revoked_at) !== null || tenantInactive,
  });
}
