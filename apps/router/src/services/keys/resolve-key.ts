import { createHash } from "node:crypto";
import { AppError, KeyRecord, keyRejection, redisKeys } from "@cloudfreedom/shared";
import type { Redis } from "ioredis";
import type { KeyCache } from "./key-cache.ts";

export interface KeyResolverDeps {
  cache: KeyCache;
  redis: Redis;
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
 * Authorization header → KeyRecord: the in-process LRU, else Redis `cf:key:<hash>` (DESIGN.md §5).
 * Revoked and expired keys are refused with 401 and the reason.
 */
export async function resolveKey(deps: KeyResolverDeps, authorization: string | undefined): Promise<KeyRecord> {
  const secret = bearerToken(authorization);
  if (!secret) {
    throw new AppError("unauthorized", "Missing API key; send Authorization: Bearer <your CloudFreedom key>");
  }
  const hash = hashKeySync(secret);
  let record = deps.cache.get(hash);
  if (!record) {
    let stored: string | null;
    try {
      stored = await deps.redis.get(redisKeys.keyRecord(hash));
    } catch {
      throw new AppError("service_unavailable", "Cannot verify API keys right now (key store unreachable); retry shortly");
    }
    if (stored === null) throw new AppError("invalid_api_key", "Invalid API key");
    const parsed = KeyRecord.safeParse(JSON.parse(stored));
    if (!parsed.success) throw new AppError("internal_error", "Stored key record is malformed");
    record = parsed.data;
    deps.cache.set(hash, record);
  }
  const rejection = keyRejection(record, Date.now());
  if (rejection) throw new AppError("invalid_api_key", `API key ${rejection}`, { reason: rejection });
  return record;
}
