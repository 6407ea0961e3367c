import { loadEnv, runHttpService } from "@cloudfreedom/service-kit";
import { buildTracesApp } from "./app.ts";
import { TracesEnv } from "./env.ts";

await runHttpService({
  name: "traces",
  env: loadEnv("traces", TracesEnv),
  build: buildTracesApp,
  serve: (options) => Bun.serve(options),
});
