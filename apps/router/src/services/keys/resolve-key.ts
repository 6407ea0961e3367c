import { createHash } from "node:crypto";
import {
  AppError,
  INTERNAL_TOKEN_HEADER,
  KEY_RESOLVE_PATH,
  KeyRecord,
  keyRejection,
  keyRejectionError,
  redisKeys,
} from "@cloudfreedom/shared";
import type { Redis } from "ioredis";
import type { KeyCache } from "./key-cache.ts";

export interface KeyResolverDeps {
  cache: KeyCache;
  redis: Redis;
  /** Asked when Redis has no record (it lost them): auth's internal resolve, which also reloads Redis. */
  fallback?: KeyFallback | undefined;
}

export interface KeyFallback {
  resolve(hash: string): Promise<KeyRecord | null>;
}

/** A hash auth did not know is not asked about again for this long, so invalid keys cannot hammer auth. */
const NEGATIVE_TTL_MS = 5_000;
const MAX_NEGATIVE_ENTRIES = 100_000;
const RESOLVE_TIMEOUT_MS = 2_000;

/**
 * `POST <auth>/internal/keys/resolve` on a Redis miss. Concurrent misses of one hash share one call
 * (single flight); a 404 is remembered for a few seconds (negative cache).
 */
export class AuthKeyFallback implements KeyFallback {
  private readonly unknown = new Map<string, number>();
  private readonly inFlight = new Map<string, Promise<KeyRecord | null>>();

  constructor(private readonly options: { authUrl: string; internalToken: string; negativeTtlMs?: number }) {}

  resolve(hash: string): Promise<KeyRecord | null> {
    const until = this.unknown.get(hash);
    if (until !== undefined && until > Date.now()) return Promise.resolve(null);
    let pending = this.inFlight.get(hash);
    if (!pending) {
      pending = this.ask(hash).finally(() => this.inFlight.delete(hash));
      this.inFlight.set(hash, pending);
    }
    return pending;
  }

  private async ask(hash: string): Promise<KeyRecord | null> {
    let res: Response;
    try {
      res = await fetch(new URL(KEY_RESOLVE_PATH, this.options.authUrl), {
        method: "POST",
        headers: { "content-type": "application/json", [INTERNAL_TOKEN_HEADER]: this.options.internalToken },
        body: JSON.stringify({ key_hash: hash }),
        signal: AbortSignal.timeout(RESOLVE_TIMEOUT_MS),
      });
    } catch {
      throw new AppError(
        "service_unavailable",
        "Cannot verify API keys right now (key store unreachable); retry shortly",
      );
    }
    if (res.status === 404) {
      await res.body?.cancel();
      if (this.unknown.size >= MAX_NEGATIVE_ENTRIES) this.unknown.clear();
      this.unknown.set(hash, Date.now() + (this.options.negativeTtlMs ?? NEGATIVE_TTL_MS));
      return null;
    }
    if (!res.ok) {
      await res.body?.cancel();
      throw new AppError(
        "service_unavailable",
        "Cannot verify API keys right now (auth answered an error); retry shortly",
      );
    }
    const parsed = KeyRecord.safeParse(await res.json());
    if (!parsed.success) throw new AppError("internal_error", "Auth answered a malformed key record");
    return parsed.data;
  }
}

/** SHA-256 hex, synchronously (node:crypto): equal to `hashApiKey` from shared, without a promise per request. */
export function hashKeySync(secret: string): string {
  return createHash("sha256").update(secret).digest("hex");
}

export function bearerToken(header: string | undefined): string | undefined {
  if (!header) return undefined;
  const match = /^Bearer\s+(\S+)$/i.exec(header.trim());
  return match?.[1];
}

/**
 * Authorization header → KeyRecord: the in-process LRU, else Redis `cf:key:<hash>`, else auth's internal resolve
 * when configured (DESIGN.md §5).
 * Revoked and expired keys are refused with 401 and the reason.
 */
export async function resolveKey(
  deps: KeyResolverDeps,
  authorization: string | undefined,
): Promise<KeyRecord> {
  const secret = bearerToken(authorization);
  if (!secret) {
    throw new AppError("unauthorized", "Missing API key; send Authorization: Bearer <your CloudFreedom key>");
  }
  const hash = hashKeySync(secret);
  let record = deps.cache.get(hash);
  if (!record) {
    const readAt = deps.cache.generation;
    let stored: string | null;
    try {
      stored = await deps.redis.get(redisKeys.keyRecord(hash));
    } catch {
      throw new AppError(
        "service_unavailable",
        "Cannot verify API keys right now (key store unreachable); retry shortly",
      );
    }
    if (stored === null) {
      const resolved = deps.fallback ? await deps.fallback.resolve(hash) : null;
      if (!resolved) {
        throw new AppError(
          "invalid_api_key",
          "This API key is not a known CloudFreedom key: check that you sent the whole key, or create one with POST /v1/keys on the auth service",
        );
      }
      record = resolved;
    } else {
      const parsed = KeyRecord.safeParse(tryParse(stored));
      if (!parsed.success) {
        throw new AppError(
          "service_unavailable",
          "This key's stored record is unreadable; retry shortly or rotate the key",
        );
      }
      record = parsed.data;
    }
    deps.cache.set(hash, record, Date.now(), readAt);
  }
  const rejection = keyRejection(record, Date.now());
  if (rejection) throw keyRejectionError(rejection);
  return record;
}

function tryParse(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
