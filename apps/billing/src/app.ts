import { createService, type Runtime, runtimeReadiness, type Service } from "@cloudfreedom/service-kit";
import type { BillingEnv } from "./env.ts";

export function buildBillingApp(runtime: Runtime<BillingEnv>): Service {
  return createService({
    name: "billing",
    logger: runtime.logger,
    readiness: runtimeReadiness(runtime),
    logRequests: runtime.env.LOG_REQUESTS,
  });
}
