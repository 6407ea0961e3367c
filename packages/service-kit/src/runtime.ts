import { createPocketBase, type PocketBaseClient } from "@cloudfreedom/db";
import { closeRedis, createRedis } from "@cloudfreedom/queue";
import type { Redis } from "ioredis";
import type { BaseEnv } from "./env.ts";
import { createLogger, type Logger } from "./logger.ts";
import type { Service } from "./service.ts";
import { installGracefulShutdown } from "./shutdown.ts";
import { startTelemetry, type Telemetry } from "./telemetry.ts";

/** What every process of a service holds: logger, PocketBase, a request-path Redis and telemetry. */
export interface Runtime<Env extends BaseEnv = BaseEnv> {
  name: string;
  env: Env;
  logger: Logger;
  db: PocketBaseClient;
  redis: Redis;
  telemetry: Telemetry;
  /** A `purpose: "queue"` Redis connection for BullMQ, made on first use and closed with the runtime. */
  queueRedis(): Redis;
  close(): Promise<void>;
}

export async function createRuntime<Env extends BaseEnv>(name: string, env: Env): Promise<Runtime<Env>> {
  const logger = createLogger(name, env.LOG_LEVEL);
  const telemetry = await startTelemetry({
    serviceName: name,
    endpoint: env.OTEL_EXPORTER_OTLP_ENDPOINT,
    logger,
  });
  const db = createPocketBase({
    url: env.POCKETBASE_URL,
    adminEmail: env.POCKETBASE_ADMIN_EMAIL,
    adminPassword: env.POCKETBASE_ADMIN_PASSWORD,
    logger,
  });
  const redis = createRedis({ url: env.REDIS_URL, name: `${name}:request`, purpose: "request", logger });
  let queueConnection: Redis | undefined;
  return {
    name,
    env,
    logger,
    db,
    redis,
    telemetry,
    queueRedis: () => {
      queueConnection ??= createRedis({
        url: env.REDIS_URL,
        name: `${name}:queue`,
        purpose: "queue",
        logger,
      });
      return queueConnection;
    },
    close: async () => {
      await Promise.all([closeRedis(redis), queueConnection ? closeRedis(queueConnection) : undefined]);
      await telemetry.shutdown();
    },
  };
}

/** `/ready` checks built from a runtime: PocketBase health and a Redis PING, each bounded in time. */
export function runtimeReadiness(runtime: Runtime) {
  return {
    database: () => runtime.db.ping(1_000),
    redis: async () => (await runtime.redis.ping()) === "PONG",
  };
}

export interface ServeOptions {
  port: number;
  hostname: string;
  /**
   * Seconds a connection may sit idle (Bun's maximum, 255: LLM streams pause while models think). A service
   * whose requests may stay silent longer raises it per request (the router's `serveRouter`).
   */
  idleTimeout: number;
  fetch: (request: Request) => Response | Promise<Response>;
}

/** The server handle the entry file gets from its runtime (`Bun.serve`). */
export interface ServerHandle {
  port?: number | undefined;
  /** Stop accepting; resolves when in-flight requests finished, or at once closing them when `force`. */
  stop(force?: boolean): Promise<void> | void;
}

/**
 * Drain, but not past a deadline that leaves time for the closers (event flush, queue close): a long
 * stream must not push the process into its hard exit with usage still buffered. What is still open at
 * the deadline is closed; its streams settle as cancelled, and their usage is flushed by the closers.
 */
export async function drainWithDeadline(
  server: ServerHandle,
  shutdownTimeoutMs: number,
  logger: Logger,
): Promise<void> {
  const closeBudget = Math.min(3_000, Math.floor(shutdownTimeoutMs * 0.3));
  let timer: ReturnType<typeof setTimeout> | undefined;
  const deadline = new Promise<"deadline">((resolve) => {
    timer = setTimeout(() => resolve("deadline"), shutdownTimeoutMs - closeBudget);
  });
  const outcome = await Promise.race([
    Promise.resolve(server.stop()).then(() => "drained" as const),
    deadline,
  ]);
  clearTimeout(timer);
  if (outcome === "deadline") {
    logger.warn(
      { deadline_ms: shutdownTimeoutMs - closeBudget },
      "drain deadline passed; closing open connections",
    );
    await server.stop(true);
  }
}

export interface HttpServiceOptions<Env extends BaseEnv & { PORT: number; HOST: string }> {
  name: string;
  env: Env;
  build: (runtime: Runtime<Env>) => Service | Promise<Service>;
  serve: (options: ServeOptions) => ServerHandle;
  /** Further things to close after the server drained (workers, flushers), in order. */
  close?: Array<() => Promise<unknown> | unknown>;
}

/** Boot an HTTP service: runtime, app, listen, and a graceful SIGTERM. */
export async function runHttpService<Env extends BaseEnv & { PORT: number; HOST: string }>(
  options: HttpServiceOptions<Env>,
): Promise<{ runtime: Runtime<Env>; server: ServerHandle }> {
  const runtime = await createRuntime(options.name, options.env);
  const service = await options.build(runtime);
  const server = options.serve({
    port: options.env.PORT,
    hostname: options.env.HOST,
    idleTimeout: 255,
    fetch: service.app.fetch,
  });
  runtime.logger.info(
    { url: `http://${options.env.HOST}:${server.port ?? options.env.PORT}` },
    `${options.name} listening`,
  );
  installGracefulShutdown({
    logger: runtime.logger,
    timeoutMs: options.env.SHUTDOWN_TIMEOUT_MS,
    beforeStop: service.markDraining,
    stopAccepting: () => drainWithDeadline(server, options.env.SHUTDOWN_TIMEOUT_MS, runtime.logger),
    close: [...(options.close ?? []), () => service.onClose?.(), runtime.close],
  });
  return { runtime, server };
}

export interface Closeable {
  close(): Promise<void>;
  ready?(): Promise<void>;
}

/** Boot a worker process: runtime, consumers, and a SIGTERM that lets in-flight jobs finish. */
export async function runWorker<Env extends BaseEnv>(options: {
  name: string;
  env: Env;
  start: (runtime: Runtime<Env>) => Closeable[] | Promise<Closeable[]>;
}): Promise<Runtime<Env>> {
  const runtime = await createRuntime(`${options.name}-worker`, options.env);
  const consumers = await options.start(runtime);
  await Promise.all(consumers.map((consumer) => consumer.ready?.()));
  runtime.logger.info({ consumers: consumers.length }, `${options.name} worker consuming`);
  installGracefulShutdown({
    logger: runtime.logger,
    timeoutMs: options.env.SHUTDOWN_TIMEOUT_MS,
    stopAccepting: async () => {
      await Promise.all(consumers.map((consumer) => consumer.close()));
    },
    close: [runtime.close],
  });
  return runtime;
}
