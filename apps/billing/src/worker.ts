import { register } from "@cloudfreedom/queue";
import { loadEnv, runWorker } from "@cloudfreedom/service-kit";
import { BillingEnv } from "./env.ts";
import { logBillingMaintenance, logUsageEvent } from "./jobs/receive.ts";

// Consumers of `usage` and `billing-maintenance`. Settlement, rollover and Stripe sync arrive with the
// billing issue; until then each job is validated against its contract and logged.
await runWorker({
  name: "billing",
  env: loadEnv("billing-worker", BillingEnv),
  start: (runtime) => {
    const options = { connection: runtime.queueRedis(), logger: runtime.logger };
    return [
      register("usage", (event) => logUsageEvent(runtime.logger, event), { ...options, concurrency: 8 }),
      register("billing-maintenance", (job) => logBillingMaintenance(runtime.logger, job), options),
    ];
  },
});
