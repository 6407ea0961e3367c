import { register } from "@cloudfreedom/queue";
import { loadEnv, runWorker } from "@cloudfreedom/service-kit";
import { TracesEnv } from "./env.ts";
import { logSpanBatch } from "./jobs/receive.ts";

// Consumer of `traces`. Persistence to PocketBase arrives with the traces issue; until then each batch is
// validated against its contract and logged.
await runWorker({
  name: "traces",
  env: loadEnv("traces-worker", TracesEnv),
  start: (runtime) => [
    register("traces", (batch) => logSpanBatch(runtime.logger, batch), {
      connection: runtime.queueRedis(),
      logger: runtime.logger,
      concurrency: 4,
    }),
  ],
});
