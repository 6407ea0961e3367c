import { loadEnv, runHttpService } from "@cloudfreedom/service-kit";
import { buildRouterApp } from "./app.ts";
import { RouterEnv } from "./env.ts";
import { requestIdleSeconds, serveRouter } from "./serve.ts";

const env = loadEnv("router", RouterEnv);
await runHttpService({
  name: "router",
  env,
  build: buildRouterApp,
  serve: (options) => serveRouter(options, requestIdleSeconds(env)),
});
