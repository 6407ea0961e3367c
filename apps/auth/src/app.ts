import { createService, type Runtime, runtimeReadiness, type Service } from "@cloudfreedom/service-kit";
import type { AuthEnv } from "./env.ts";

export function buildAuthApp(runtime: Runtime<AuthEnv>): Service {
  return createService({
    name: "auth",
    logger: runtime.logger,
    readiness: runtimeReadiness(runtime),
    logRequests: runtime.env.LOG_REQUESTS,
  });
}
