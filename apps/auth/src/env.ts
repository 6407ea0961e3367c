import { serviceEnv } from "@cloudfreedom/service-kit";
import { parseMasterKey } from "@cloudfreedom/shared";
import { z } from "zod";

const Int = (fallback: number) => z.coerce.number().int().positive().default(fallback);

export const AuthEnv = serviceEnv(4100, {
  /** 32 bytes (base64 or hex): encrypts the JWT signing keys at rest in PocketBase. */
  MASTER_KEY: z.string().refine(
    (value) => {
      try {
        parseMasterKey(value);
        return true;
      } catch {
        return false;
      }
    },
    { message: "must be 32 bytes as base64 or 64 hex characters (openssl rand -base64 32)" },
  ),
  /** Shared secret of service-to-service calls (the router's key resolve). Unset: internal routes refuse. */
  INTERNAL_TOKEN: z.string().min(32, { message: "must be at least 32 characters" }).optional(),
  /** `iss` of access tokens; default `https://auth.<PLATFORM_DOMAIN>`. */
  JWT_ISSUER: z.string().min(1).optional(),
  ACCESS_TOKEN_TTL_S: Int(15 * 60),
  REFRESH_TOKEN_TTL_S: Int(30 * 24 * 60 * 60),
  /** A new signing key is made when the active one is this old; the old one verifies until its tokens expire. */
  SIGNING_KEY_ROTATION_DAYS: Int(30),
  /** How often a replica re-reads the signing keys other replicas may have made. */
  SIGNING_KEY_REFRESH_MS: Int(60_000),
  /** The plan of a personal tenant made at sign-up (slug in `plans`). */
  DEFAULT_PLAN_SLUG: z.string().min(1).default("free"),
  INVITATION_TTL_HOURS: Int(7 * 24),
  /** Where invitation links point; default `https://admin.<PLATFORM_DOMAIN>/invitations/accept`. */
  INVITATION_URL: z.url().optional(),
  /** Reverse proxies in front of auth whose X-Forwarded-For entries are trusted (Traefik in compose: 1). */
  TRUSTED_PROXY_HOPS: z.coerce.number().int().min(0).max(10).default(0),
  /** Login attempts per IP per minute, and failed logins per account per 15 minutes. */
  LOGIN_MAX_PER_IP: Int(20),
  LOGIN_MAX_FAILURES_PER_ACCOUNT: Int(10),
  /** Sign-ups per IP per hour (each attempt counts, so probing which e-mails have accounts is slow too). */
  SIGNUP_MAX_PER_IP: Int(20),
  /** API keys created per IP and per user per minute. */
  KEY_CREATE_MAX_PER_IP: Int(30),
  KEY_CREATE_MAX_PER_USER: Int(20),
  /** Worker: how often `cf:keys:last-used` is drained into `api_keys.last_used_at`, and the batch size. */
  LAST_USED_FLUSH_MS: Int(10_000),
  LAST_USED_BATCH: Int(500),
});
export type AuthEnv = z.infer<typeof AuthEnv>;
