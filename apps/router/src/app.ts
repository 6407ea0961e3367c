import { createDb } from "@cloudfreedom/db";
import { closeRedis, createProducer, createRedis } from "@cloudfreedom/queue";
import { type Runtime, type Service, createService, runtimeReadiness } from "@cloudfreedom/service-kit";
import type { RouterDeps } from "./deps.ts";
import type { RouterEnv } from "./env.ts";
import { ADAPTERS } from "./providers/registry.ts";
import { registerModelRoutes } from "./routes/v1/models.ts";
import { registerProxyRoutes } from "./routes/v1/proxy.ts";
import { Catalog } from "./services/catalog/catalog.ts";
import { EventPublisher } from "./services/events/publisher.ts";
import { subscribeInvalidations } from "./services/invalidation.ts";
import { KeyCache } from "./services/keys/key-cache.ts";
import { CircuitBreaker } from "./services/routing/circuit-breaker.ts";

export async function buildRouterApp(runtime: Runtime<RouterEnv>): Promise<Service> {
  const { env, logger } = runtime;
  const catalog = new Catalog({ db: createDb(runtime.db), env, logger });
  const keys = new KeyCache(env.KEY_CACHE_SIZE, env.KEY_CACHE_TTL_MS);
  const queueRedis = runtime.queueRedis();
  const events = new EventPublisher({
    // Events are built by typed code on the hot path; the billing and traces workers parse every payload.
    usageProducer: createProducer("usage", { connection: queueRedis, validate: false }),
    tracesProducer: createProducer("traces", { connection: queueRedis, validate: false }),
    redis: queueRedis,
    flushMs: env.EVENT_FLUSH_MS,
    logger,
  });
  const deps: RouterDeps = {
    env,
    logger,
    redis: runtime.redis,
    keys,
    catalog,
    breaker: new CircuitBreaker(env.CIRCUIT_FAILURE_THRESHOLD, env.CIRCUIT_COOLDOWN_MS),
    events,
    adapters: ADAPTERS,
  };
  await catalog.refresh();
  catalog.start();
  const subscriber = createRedis({ url: env.REDIS_URL, name: "router:invalidate", purpose: "queue", logger });
  await subscribeInvalidations({ subscriber, cache: keys, catalog, logger });

  const service = createService({
    name: "router",
    logger,
    readiness: runtimeReadiness(runtime),
    logRequests: env.LOG_REQUESTS,
    maxBodyBytes: env.MAX_BODY_BYTES,
  });
  registerModelRoutes(service.app, deps);
  registerProxyRoutes(service.app, deps);
  service.onClose = async () => {
    catalog.stop();
    await events.close();
    await closeRedis(subscriber);
  };
  return service;
}
