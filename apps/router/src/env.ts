import { serviceEnv } from "@cloudfreedom/service-kit";
import { isMasterKey } from "@cloudfreedom/shared";
import { z } from "zod";

const Ms = (fallback: number) => z.coerce.number().int().positive().default(fallback);
const OptionalUrl = z.url({ message: "must be a URL" }).optional();

export const RouterEnv = serviceEnv(4000, {
  /** 32 bytes (base64 or hex) that decrypt provider credentials stored in PocketBase. */
  MASTER_KEY: z
    .string()
    .refine(isMasterKey, {
      message: "must be 32 bytes, as 64 hex characters or base64 (openssl rand -base64 32)",
    })
    .optional(),
  /** Per attempt of a streamed call: connect and the status line (a stream answers at once). */
  UPSTREAM_TIMEOUT_MS: Ms(60_000),
  /**
   * Per attempt of a non-streamed call: connect, status line and the whole body. Its status line comes only
   * when generation ended, so this also caps a non-streamed generation, and a provider may bill a generation
   * cut by it: by default it equals the total (no generation the total allows is cut); lower it to fall back
   * sooner from a deployment that hangs.
   */
  UPSTREAM_RESPONSE_TIMEOUT_MS: Ms(300_000),
  /** The whole request up to its answer: all attempts, fallbacks, backoff, and a stream's first chunk. */
  REQUEST_TIMEOUT_MS: Ms(300_000),
  /**
   * A stream handed to the client is no longer bound by REQUEST_TIMEOUT_MS but by this: the longest wait for
   * the upstream's next bytes (a stalled provider). Long silent phases (reasoning before the first token)
   * come before the hand-over, under the total; Anthropic pings while it thinks.
   */
  STREAM_IDLE_TIMEOUT_MS: Ms(120_000),
  /** Plain-HTTP upstreams: `auto` (HTTP/1.1 client at low concurrency, fetch under load), `http1` or `fetch`. */
  UPSTREAM_HTTP_CLIENT: z.enum(["auto", "http1", "fetch"]).default("auto"),
  MAX_ATTEMPTS: z.coerce.number().int().min(1).max(10).default(3),
  RETRY_BASE_MS: Ms(200),
  RETRY_MAX_MS: Ms(5_000),
  CIRCUIT_FAILURE_THRESHOLD: z.coerce.number().int().positive().default(5),
  CIRCUIT_COOLDOWN_MS: Ms(30_000),
  KEY_CACHE_TTL_MS: Ms(5_000),
  KEY_CACHE_SIZE: z.coerce.number().int().positive().default(10_000),
  CATALOG_REFRESH_MS: Ms(30_000),
  /** `false` turns the model tier checks off (DESIGN.md §7). */
  ENABLE_TIER_ENFORCEMENT: z
    .enum(["true", "false"])
    .default("true")
    .transform((v) => v === "true"),
  /** Where a 403 model_access_restricted points; defaults to the admin portal's billing page. */
  UPGRADE_URL: z.url().optional(),
  /** Auth's internal base URL (e.g. http://auth:4100): asked for keys Redis lost. Needs INTERNAL_TOKEN too. */
  AUTH_INTERNAL_URL: OptionalUrl,
  /** Shared secret of service-to-service calls, sent as x-internal-token. */
  INTERNAL_TOKEN: z.string().min(32, { message: "must be at least 32 characters" }).optional(),
  MAX_BODY_BYTES: z.coerce
    .number()
    .int()
    .positive()
    .default(10 * 1024 * 1024),
  /**
   * How often finished calls are settled and their usage events and spans enqueued (one round trip each per
   * flush). 20 ms rather than 5: a quarter of the flushes took the router's added p50 at concurrency 1 from
   * 0.256 to 0.199 ms (median of 10 A/B rounds, 9 better); a SIGKILL can lose one flush window of finished
   * calls, next to the seconds of calls in flight it loses anyway.
   */
  EVENT_FLUSH_MS: Ms(20),
  /** `true`: when Redis cannot be asked, admit without budget/limit checks (logged loudly) instead of 503. */
  BUDGET_FAIL_OPEN: z
    .enum(["true", "false"])
    .default("false")
    .transform((v) => v === "true"),
  /** How long an admission hold lives if its router dies before settling; the reaper releases it after. */
  RESERVATION_TTL_MS: Ms(10 * 60_000),
  /** Most admission holds taken ahead per key, far from its limits (0: one Redis round trip per request). */
  ADMISSION_PREFETCH_MAX: z.coerce.number().int().min(0).max(64).default(64),
  /** How long a prefetched hold waits for a request before it is given back. */
  ADMISSION_PREFETCH_MS: Ms(1_000),
  /** How long (at least; at most twice) a settled reservation id is remembered, so a repeated settlement counts once. */
  SETTLED_RETENTION_MS: Ms(15 * 60_000),
  // Bootstrap providers from env (rows in `providers` with the same name win).
  OPENAI_API_KEY: z.string().optional(),
  OPENAI_BASE_URL: OptionalUrl,
  ANTHROPIC_API_KEY: z.string().optional(),
  ANTHROPIC_BASE_URL: OptionalUrl,
  GEMINI_API_KEY: z.string().optional(),
  GEMINI_BASE_URL: OptionalUrl,
  OLLAMA_BASE_URL: OptionalUrl,
  OPENROUTER_API_KEY: z.string().optional(),
  OPENROUTER_BASE_URL: OptionalUrl,
  AZURE_OPENAI_API_KEY: z.string().optional(),
  AZURE_OPENAI_BASE_URL: OptionalUrl,
  AZURE_OPENAI_API_VERSION: z.string().optional(),
});
export type RouterEnv = z.infer<typeof RouterEnv>;
