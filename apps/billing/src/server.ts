import { loadEnv, runHttpService } from "@cloudfreedom/service-kit";
import { buildBillingApp } from "./app.ts";
import { BillingEnv } from "./env.ts";

await runHttpService({
  name: "billing",
  env: loadEnv("billing", BillingEnv),
  build: buildBillingApp,
  serve: (options) => Bun.serve(options),
});
