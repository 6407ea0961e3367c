import { loadEnv, runHttpService } from "@cloudfreedom/service-kit";
import { buildAuthApp } from "./app.ts";
import { AuthEnv } from "./env.ts";

await runHttpService({
  name: "auth",
  env: loadEnv("auth", AuthEnv),
  build: buildAuthApp,
  serve: (options) => Bun.serve(options),
});
