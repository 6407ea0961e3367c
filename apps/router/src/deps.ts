import type { Admission, HoldKeeper, HoldPrefetcher } from "@cloudfreedom/admission";
import type { Logger } from "@cloudfreedom/service-kit";
import type { Redis } from "ioredis";
import type { RouterEnv } from "./env.ts";
import type { AdapterRegistry } from "./providers/types.ts";
import type { Catalog } from "./services/catalog/catalog.ts";
import type { EventPublisher } from "./services/events/publisher.ts";
import type { Settler } from "./services/events/settler.ts";
import type { KeyCache } from "./services/keys/key-cache.ts";
import type { KeyFallback } from "./services/keys/resolve-key.ts";
import type { CircuitBreaker } from "./services/routing/circuit-breaker.ts";
import type { UpstreamClient } from "./services/upstream/client.ts";

/** Everything a request needs, built once per process in app.ts and passed to handlers. */
export interface RouterDeps {
  env: RouterEnv;
  logger: Logger;
  redis: Redis;
  keys: KeyCache;
  /** Auth's internal key resolve, when AUTH_INTERNAL_URL and INTERNAL_TOKEN are set. */
  keyFallback?: KeyFallback | undefined;
  catalog: Catalog;
  breaker: CircuitBreaker;
  events: EventPublisher;
  /** Budgets, query and rate limits: reserve before the provider call (DESIGN.md §5). */
  admission: Admission;
  /** Admission for the request path: holds taken ahead far from the limits, one script run per request near them. */
  holds: HoldPrefetcher;
  /** Renews the holds of calls that run longer than a hold lives (long streams), so none is reaped mid-call. */
  keeper: HoldKeeper;
  /** Settles finished calls in batches, then publishes their events. */
  settler: Settler;
  adapters: AdapterRegistry;
  /** Provider calls: keep-alive HTTP/1.1 for plain-HTTP upstreams, fetch for the rest. */
  upstream: UpstreamClient;
}
