import { createService, type Runtime, runtimeReadiness, type Service } from "@cloudfreedom/service-kit";
import type { TracesEnv } from "./env.ts";

export function buildTracesApp(runtime: Runtime<TracesEnv>): Service {
  return createService({
    name: "traces",
    logger: runtime.logger,
    readiness: runtimeReadiness(runtime),
    logRequests: runtime.env.LOG_REQUESTS,
  });
}
