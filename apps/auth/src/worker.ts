import { createDb } from "@cloudfreedom/db";
import { loadEnv, runWorker } from "@cloudfreedom/service-kit";
import { AuthEnv } from "./env.ts";
import { startLastUsedFlusher } from "./jobs/flush-last-used.ts";

// Auth's background work: `api_keys.last_used_at` from the router's `cf:keys:last-used` set, never on the request path.
await runWorker({
  name: "auth",
  env: loadEnv("auth-worker", AuthEnv),
  start: (runtime) => [
    startLastUsedFlusher(
      {
        db: createDb(runtime.db),
        redis: runtime.redis,
        logger: runtime.logger,
        batchSize: runtime.env.LAST_USED_BATCH,
      },
      runtime.env.LAST_USED_FLUSH_MS,
    ),
  ],
});
