import { Admission, HoldKeeper, HoldPrefetcher, pocketBaseCounterSource } from "@cloudfreedom/admission";
import { createDb } from "@cloudfreedom/db";
import { closeRedis, createProducer, createRedis, DURABLE_JOB_OPTIONS } from "@cloudfreedom/queue";
import { createService, type Runtime, runtimeReadiness, type Service } from "@cloudfreedom/service-kit";
import type { RouterDeps } from "./deps.ts";
import type { RouterEnv } from "./env.ts";
import { ADAPTERS } from "./providers/registry.ts";
import { registerModelRoutes } from "./routes/v1/models.ts";
import { registerProxyRoutes } from "./routes/v1/proxy.ts";
import { Catalog } from "./services/catalog/catalog.ts";
import { EventPublisher } from "./services/events/publisher.ts";
import { Settler } from "./services/events/settler.ts";
import { subscribeInvalidations } from "./services/invalidation.ts";
import { KeyCache } from "./services/keys/key-cache.ts";
import { AuthKeyFallback } from "./services/keys/resolve-key.ts";
import { CircuitBreaker } from "./services/routing/circuit-breaker.ts";
import { UpstreamClient } from "./services/upstream/client.ts";

export async function buildRouterApp(runtime: Runtime<RouterEnv>): Promise<Service> {
  const { env, logger } = runtime;
  const catalog = new Catalog({ db: createDb(runtime.db), env, logger });
  const keys = new KeyCache(env.KEY_CACHE_SIZE, env.KEY_CACHE_TTL_MS);
  const queueRedis = runtime.queueRedis();
  const events = new EventPublisher({
    // Events are built by typed code on the hot path; the billing and traces workers parse every payload.
    usageProducer: createProducer("usage", {
      connection: queueRedis,
      validate: false,
      jobOptions: DURABLE_JOB_OPTIONS,
    }),
    tracesProducer: createProducer("traces", { connection: queueRedis, validate: false }),
    redis: queueRedis,
    flushMs: env.EVENT_FLUSH_MS,
    logger,
  });
  const admission = new Admission({
    redis: runtime.redis,
    source: pocketBaseCounterSource(runtime.db),
    logger,
    failOpen: env.BUDGET_FAIL_OPEN,
    reservationTtlMs: env.RESERVATION_TTL_MS,
    settledRetentionMs: env.SETTLED_RETENTION_MS,
  });
  const holds = new HoldPrefetcher(admission, {
    maxHolds: env.ADMISSION_PREFETCH_MAX,
    horizonMs: env.ADMISSION_PREFETCH_MS,
    reservationTtlMs: env.RESERVATION_TTL_MS,
    logger,
  });
  const settler = new Settler({ admission, events, flushMs: env.EVENT_FLUSH_MS, logger });
  if (env.BUDGET_FAIL_OPEN)
    logger.warn({}, "BUDGET_FAIL_OPEN=true: requests are admitted unchecked whenever Redis is unreachable");
  const deps: RouterDeps = {
    env,
    logger,
    redis: runtime.redis,
    keys,
    keyFallback:
      env.AUTH_INTERNAL_URL && env.INTERNAL_TOKEN
        ? new AuthKeyFallback({ authUrl: env.AUTH_INTERNAL_URL, internalToken: env.INTERNAL_TOKEN })
        : undefined,
    catalog,
    breaker: new CircuitBreaker(env.CIRCUIT_FAILURE_THRESHOLD, env.CIRCUIT_COOLDOWN_MS),
    events,
    admission,
    holds,
    keeper: new HoldKeeper({ redis: runtime.redis, reservationTtlMs: env.RESERVATION_TTL_MS, logger }),
    settler,
    adapters: ADAPTERS,
    upstream: new UpstreamClient(env.UPSTREAM_HTTP_CLIENT),
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
    deps.keeper.close();
    await holds.close();
    await settler.close();
    await events.close();
    await closeRedis(subscriber);
    deps.upstream.close();
  };
  return service;
}
