import { register } from "@cloudfreedom/queue";
import { loadEnv, runWorker } from "@cloudfreedom/service-kit";
import { AnalyticsEnv } from "./env.ts";
import { logAnalyticsJob } from "./jobs/receive.ts";

// Consumer of `analytics`. Rollup aggregation arrives with the analytics issue; until then each job is
// validated against its contract and logged.
await runWorker({
  name: "analytics",
  env: loadEnv("analytics-worker", AnalyticsEnv),
  start: (runtime) => [
    register("analytics", (job) => logAnalyticsJob(runtime.logger, job), {
      connection: runtime.queueRedis(),
      logger: runtime.logger,
      concurrency: 4,
    }),
  ],
});
