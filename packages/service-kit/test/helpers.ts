import { createLogger } from "../src/logger.ts";
import { createService, type ServiceOptions } from "../src/service.ts";

export const silentLogger = createLogger("test", "silent");

export function testService(overrides: Partial<ServiceOptions> = {}) {
  return createService({
    name: "test",
    logger: silentLogger,
    readiness: { database: async () => true, redis: async () => true },
    ...overrides,
  });
}
