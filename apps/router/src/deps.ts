import type { Logger } from "@cloudfreedom/service-kit";
import type { Redis } from "ioredis";
import type { RouterEnv } from "./env.ts";
import type { AdapterRegistry } from "./providers/types.ts";
import type { Catalog } from "./services/catalog/catalog.ts";
import type { EventPublisher } from "./services/events/publisher.ts";
import type { KeyCache } from "./services/keys/key-cache.ts";
import type { CircuitBreaker } from "./services/routing/circuit-breaker.ts";

/** Everything a request needs, built once per process in app.ts and passed to handlers. */
export interface RouterDeps {
  env: RouterEnv;
  logger: Logger;
  redis: Redis;
  keys: KeyCache;
  catalog: Catalog;
  breaker: CircuitBreaker;
  events: EventPublisher;
  adapters: AdapterRegistry;
}
