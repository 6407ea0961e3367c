import {
  AppError,
  hashApiKey,
  KeyRecord,
  keyRejection,
  keyRejectionError,
  redisKeys,
} from "@cloudfreedom/shared";
import type { Redis } from "ioredis";

/**
 * API key → KeyRecord from Redis `cf:key:<sha256>`, the record auth (packages/keyring) keeps there
 * (DESIGN.md §5). Revoked and expired keys are refused with the reason. The billing API is not the hot path,
 * so there is no in-process cache (the router's resolver has one; see the report on sharing it).
 */
export async function resolveApiKey(redis: Redis, secret: string, now = Date.now()): Promise<KeyRecord> {
  const hash = await hashApiKey(secret);
  let stored: string | null;
  try {
    stored = await redis.get(redisKeys.keyRecord(hash));
  } catch {
    throw new AppError(
      "service_unavailable",
      "Cannot verify API keys right now (key store unreachable); retry shortly",
    );
  }
  if (stored === null)
    throw new AppError(
      "invalid_api_key",
      "Invalid credentials: not a known API key, access token or operator token",
    );
  let parsed: ReturnType<typeof KeyRecord.safeParse>;
  try {
    parsed = KeyRecord.safeParse(JSON.parse(stored));
  } catch {
    throw new AppError("internal_error", "Stored key record is malformed");
  }
  if (!parsed.success) throw new AppError("internal_error", "Stored key record is malformed");
  const rejection = keyRejection(parsed.data, now);
  if (rejection) throw keyRejectionError(rejection);
  return parsed.data;
}
