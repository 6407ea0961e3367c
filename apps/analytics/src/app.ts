import { createService, type Runtime, runtimeReadiness, type Service } from "@cloudfreedom/service-kit";
import type { AnalyticsEnv } from "./env.ts";

export function buildAnalyticsApp(runtime: Runtime<AnalyticsEnv>): Service {
  return createService({
    name: "analytics",
    logger: runtime.logger,
    readiness: runtimeReadiness(runtime),
    logRequests: runtime.env.LOG_REQUESTS,
  });
}
