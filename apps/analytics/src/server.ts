import { loadEnv, runHttpService } from "@cloudfreedom/service-kit";
import { buildAnalyticsApp } from "./app.ts";
import { AnalyticsEnv } from "./env.ts";

await runHttpService({
  name: "analytics",
  env: loadEnv("analytics", AnalyticsEnv),
  build: buildAnalyticsApp,
  serve: (options) => Bun.serve(options),
});
