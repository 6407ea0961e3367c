import { loadEnv, runWorker } from "@cloudfreedom/service-kit";
import { buildBillingDeps } from "./app.ts";
import { BillingEnv } from "./env.ts";
import { scheduleMaintenance, startMaintenanceConsumer } from "./jobs/maintenance.ts";
import { startSnapshotRefresher } from "./jobs/snapshot-refresher.ts";
import { startUsageConsumer } from "./jobs/usage-consumer.ts";

// Consumers of `usage` (the usage pipeline) and `billing-maintenance` (rollover, reaper, Stripe meter sync,
// payment grace), plus the budget snapshot refresher.
await runWorker({
  name: "billing",
  env: loadEnv("billing-worker", BillingEnv),
  start: async (runtime) => {
    const deps = buildBillingDeps(runtime);
    const queueRedis = runtime.queueRedis();
    await scheduleMaintenance(deps, queueRedis);
    return [
      startUsageConsumer({ ...deps, client: runtime.db, queueRedis }),
      startMaintenanceConsumer(deps, queueRedis),
      startSnapshotRefresher({ ...deps, intervalMs: runtime.env.SNAPSHOT_INTERVAL_MS }),
      { close: () => deps.usageQueue.close() },
    ];
  },
});
