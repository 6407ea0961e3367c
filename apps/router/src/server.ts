import { loadEnv, runHttpService } from "@cloudfreedom/service-kit";
import { buildRouterApp } from "./app.ts";
import { RouterEnv } from "./env.ts";

await runHttpService({
  name: "router",
  env: loadEnv("router", RouterEnv),
  build: buildRouterApp,
  serve: (options) => Bun.serve(options),
});
