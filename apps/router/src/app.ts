import { createService, type Runtime, runtimeReadiness, type Service } from "@cloudfreedom/service-kit";
import type { RouterEnv } from "./env.ts";

export function buildRouterApp(runtime: Runtime<RouterEnv>): Service {
  return createService({
    name: "router",
    logger: runtime.logger,
    readiness: runtimeReadiness(runtime),
    logRequests: runtime.env.LOG_REQUESTS,
  });
}
