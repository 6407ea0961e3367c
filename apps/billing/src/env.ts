import { serviceEnv } from "@cloudfreedom/service-kit";
import { z } from "zod";

const Int = (fallback: number) => z.coerce.number().int().positive().default(fallback);
const Flag = (fallback: "true" | "false") =>
  z
    .enum(["true", "false"])
    .default(fallback)
    .transform((value) => value === "true");

export const BillingEnv = serviceEnv(4200, {
  /** The auth service's JWKS (`https://auth.<domain>/.well-known/jwks.json`); unset = API keys only. */
  JWKS_URL: z.url({ message: "must be a URL like http://127.0.0.1:4100/.well-known/jwks.json" }).optional(),
  JWT_ISSUER: z.string().min(1).optional(),
  JWT_AUDIENCE: z.string().min(1).optional(),
  /** Platform operators: `Authorization: Bearer <OPERATOR_TOKEN>` may edit plans and any tenant's budgets. */
  OPERATOR_TOKEN: z.string().min(32, { message: "must be at least 32 characters" }).optional(),
  /** Admit without budget checks when Redis cannot be asked (DESIGN.md §5); default: fail closed. */
  BUDGET_FAIL_OPEN: Flag("false"),
  /** Lifetime of a reservation made by `POST /v1/budget/check` that nobody settles. */
  RESERVATION_TTL_MS: Int(10 * 60_000),
  /** The routers' SETTLED_RETENTION_MS: their remembered settlements count here too, so set the same value. */
  SETTLED_RETENTION_MS: Int(15 * 60_000),

  // Worker: the usage pipeline.
  /**
   * Jobs of queue `usage` in flight per worker process. A job is a batch (a router flush, typically tens of
   * events; an API report, one): enough jobs in flight keep the writes full (USAGE_BATCH_SIZE events each).
   */
  USAGE_CONCURRENCY: Int(64),
  /** Events per PocketBase batch (≤ PocketBase's batch max requests, 1000). */
  USAGE_BATCH_SIZE: z.coerce.number().int().min(1).max(1_000).default(1_000),
  /** How long a partial batch waits for more events before it is written. */
  USAGE_BATCH_LINGER_MS: Int(20),
  /** A crashed worker's jobs go back to the queue after this (BullMQ lock duration). */
  USAGE_LOCK_MS: Int(30_000),
  /** How often the `budgets` spend snapshots of periods with new usage are recomputed. */
  SNAPSHOT_INTERVAL_MS: Int(2_000),

  // Worker: repeatable maintenance jobs.
  /** Cron (UTC) of `period_rollover`: snapshots and closes the periods that ended. */
  ROLLOVER_CRON: z.string().min(1).default("15 0 * * *"),
  REAPER_EVERY_MS: Int(60_000),
  METER_SYNC_EVERY_MS: Int(15 * 60_000),
  GRACE_CHECK_EVERY_MS: Int(60 * 60_000),

  // Stripe.
  /** `sk_test_…` / `sk_live_…`; unset = Stripe endpoints answer 503 and meter sync is skipped. */
  STRIPE_SECRET_KEY: z.string().min(1).optional(),
  /** `whsec_…` of the webhook endpoint; unset = the webhook answers 503. */
  STRIPE_WEBHOOK_SECRET: z.string().min(1).optional(),
  /** Another Stripe API base, e.g. stripe-mock `http://127.0.0.1:12111`. */
  STRIPE_API_BASE: z.url({ message: "must be a URL like http://127.0.0.1:12111" }).optional(),
  /** Event name of the Stripe billing meter that bills usage above the included budget. */
  STRIPE_METER_EVENT_NAME: z.string().min(1).default("cloudfreedom_ai_overage"),
  /** Micro-units per meter unit: 10,000 = one cent per unit. */
  STRIPE_METER_UNIT_MICROS: Int(10_000),
  /** Days a past-due subscription keeps its tier when its plan does not say. */
  PAYMENT_GRACE_DAYS: z.coerce.number().int().min(0).default(7),
  /** Where checkout and the customer portal return to; default `https://admin.<PLATFORM_DOMAIN>/billing`. */
  BILLING_RETURN_URL: z.url().optional(),
});
export type BillingEnv = z.infer<typeof BillingEnv>;
