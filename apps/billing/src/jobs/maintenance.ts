import { register, upsertSchedules } from "@cloudfreedom/queue";
import type { Closeable } from "@cloudfreedom/service-kit";
import type { BillingMaintenanceJob } from "@cloudfreedom/shared";
import type { Redis } from "ioredis";
import type { BillingDeps } from "../deps.ts";
import { rolloverPeriods } from "../services/budgets/rollover-periods.ts";
import { expirePaymentGrace } from "../services/stripe/expire-grace.ts";
import { syncStripeMeter } from "../services/stripe/sync-meter.ts";

/** One processor per kind of `billing-maintenance` job; each is idempotent, so a repeated tick is harmless. */
export async function runMaintenanceJob(
  deps: BillingDeps,
  job: BillingMaintenanceJob,
): Promise<Record<string, unknown>> {
  switch (job.kind) {
    case "period_rollover":
      return { ...(await rolloverPeriods(deps, job.period ? { period: job.period } : {})) };
    case "reservation_reaper":
      return { ...(await deps.admission.reap()) };
    case "stripe_meter_sync":
      if (!deps.stripe) return { skipped: "STRIPE_SECRET_KEY is not set" };
      return { ...(await syncStripeMeter({ ...deps, stripe: deps.stripe })) };
    case "payment_grace_expiry":
      return { downgraded: await expirePaymentGrace(deps) };
  }
}

/** The repeatable schedule of every maintenance job (upserted by every worker replica at boot; runs once per tick). */
export function scheduleMaintenance(deps: BillingDeps, connection: Redis): Promise<void> {
  const { env } = deps;
  return upsertSchedules(
    "billing-maintenance",
    [
      { id: "period_rollover", cron: env.ROLLOVER_CRON, payload: { kind: "period_rollover" } },
      { id: "reservation_reaper", everyMs: env.REAPER_EVERY_MS, payload: { kind: "reservation_reaper" } },
      { id: "stripe_meter_sync", everyMs: env.METER_SYNC_EVERY_MS, payload: { kind: "stripe_meter_sync" } },
      {
        id: "payment_grace_expiry",
        everyMs: env.GRACE_CHECK_EVERY_MS,
        payload: { kind: "payment_grace_expiry" },
      },
    ],
    { connection },
  );
}

export function startMaintenanceConsumer(deps: BillingDeps, connection: Redis): Closeable {
  const consumer = register(
    "billing-maintenance",
    async (job) => {
      const report = await runMaintenanceJob(deps, job);
      deps.logger.info({ kind: job.kind, ...report }, "billing maintenance job done");
    },
    { connection, logger: deps.logger },
  );
  return { ready: () => consumer.ready(), close: () => consumer.close() };
}
