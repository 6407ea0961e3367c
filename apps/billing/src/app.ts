import { Admission, pocketBaseCounterSource } from "@cloudfreedom/admission";
import { createDb } from "@cloudfreedom/db";
import { publishTenantKeys } from "@cloudfreedom/keyring";
import { createProducer, DURABLE_JOB_OPTIONS } from "@cloudfreedom/queue";
import { createService, type Runtime, runtimeReadiness, type Service } from "@cloudfreedom/service-kit";
import type { BillingDeps } from "./deps.ts";
import type { BillingEnv } from "./env.ts";
import type { AuthOptions } from "./routes/auth.ts";
import { registerBillingRoutes } from "./routes/index.ts";
import { createModelCatalog } from "./services/catalog/model-catalog.ts";
import { createTenantPeriods } from "./services/periods/tenant-periods.ts";
import { createStripeClient } from "./services/stripe/client.ts";

/** The dependencies of the billing API and worker, from the process runtime. */
export function buildBillingDeps(runtime: Runtime<BillingEnv>): BillingDeps {
  const { env, logger } = runtime;
  const db = createDb(runtime.db);
  return {
    env,
    logger,
    db,
    redis: runtime.redis,
    admission: new Admission({
      redis: runtime.redis,
      source: pocketBaseCounterSource(runtime.db),
      logger,
      failOpen: env.BUDGET_FAIL_OPEN,
      reservationTtlMs: env.RESERVATION_TTL_MS,
      settledRetentionMs: env.SETTLED_RETENTION_MS,
    }),
    usageQueue: createProducer("usage", { connection: runtime.redis, jobOptions: DURABLE_JOB_OPTIONS }),
    catalog: createModelCatalog(db),
    periods: createTenantPeriods(db),
    stripe: createStripeClient(env),
    refreshTenantKeys: async (tenantId, previousTier) => {
      await publishTenantKeys({
        db,
        redis: runtime.redis,
        logger,
        tenantId,
        ...(previousTier ? { previousTier } : {}),
      });
    },
  };
}

export function buildBillingApp(runtime: Runtime<BillingEnv>, options: AuthOptions = {}): Service {
  const deps = buildBillingDeps(runtime);
  const service = createService({
    name: "billing",
    logger: runtime.logger,
    readiness: runtimeReadiness(runtime),
    logRequests: runtime.env.LOG_REQUESTS,
  });
  registerBillingRoutes(service.app, deps, options);
  service.onClose = () => deps.usageQueue.close();
  return service;
}
