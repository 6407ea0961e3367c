import type { RedisOptions } from "ioredis";
import { Redis } from "ioredis";
import type { QueueLogger } from "./types.ts";
// Before any client exists: ioredis must see that nobody listens on its tracing channels (Bun).
import "./tracing-channel.ts";

export const DEFAULT_REDIS_URL = "redis://127.0.0.1:6379";

/**
 * `queue`: BullMQ producers and workers; commands wait out a reconnect (BullMQ workers require it).
 * `request`: the HTTP hot path; a command fails fast when Redis is down instead of hanging the request.
 */
export type RedisPurpose = "queue" | "request";

export interface CreateRedisOptions {
  url?: string;
  /** Sent as CLIENT SETNAME, so `CLIENT LIST` says which service holds the connection. */
  name?: string;
  purpose?: RedisPurpose;
  /**
   * Connect on the first command instead of at construction. A `request` connection has no offline queue,
   * so with `lazyConnect` call `await redis.connect()` before serving, or the first command fails.
   */
  lazyConnect?: boolean;
  /** Retries of one command across reconnects, `request` purpose only (queue connections never give up). */
  requestMaxRetries?: number;
  /** Per-command timeout, `request` purpose only (blocking BullMQ commands must not time out). */
  commandTimeoutMs?: number;
  connectTimeoutMs?: number;
  retryBaseMs?: number;
  retryMaxMs?: number;
  /**
   * Send the commands of one event-loop iteration in one socket write; see `coalesceWrites`. Default: on for
   * `queue` connections (batched work: enqueues, workers), off for `request` ones, whose commands a request
   * waits for and which should leave at once (coalescing adds ~6 µs to a lone round trip).
   */
  coalesceWrites?: boolean;
  logger?: QueueLogger;
}

export const REDIS_DEFAULTS = {
  requestMaxRetries: 1,
  commandTimeoutMs: 2_000,
  connectTimeoutMs: 5_000,
  retryBaseMs: 100,
  retryMaxMs: 10_000,
} as const;

/** Capped exponential backoff for reconnects: base, 2×base, 4×base, … up to max. `attempt` starts at 1. */
export function reconnectDelay(attempt: number, baseMs: number, maxMs: number): number {
  const exponent = Math.max(0, attempt - 1);
  // 2 ** 31 already exceeds any sane cap; clamping the exponent keeps the number finite.
  return Math.min(maxMs, baseMs * 2 ** Math.min(exponent, 31));
}

/** The ioredis options for a purpose; pure, so the choices are unit-tested without a server. */
export function buildRedisOptions(options: CreateRedisOptions = {}): RedisOptions {
  const purpose = options.purpose ?? "queue";
  const baseMs = options.retryBaseMs ?? REDIS_DEFAULTS.retryBaseMs;
  const maxMs = options.retryMaxMs ?? REDIS_DEFAULTS.retryMaxMs;
  const common: RedisOptions = {
    lazyConnect: options.lazyConnect ?? false,
    connectTimeout: options.connectTimeoutMs ?? REDIS_DEFAULTS.connectTimeoutMs,
    retryStrategy: (attempt) => reconnectDelay(attempt, baseMs, maxMs),
    ...(options.name ? { connectionName: options.name } : {}),
  };
  if (purpose === "queue") {
    return { ...common, maxRetriesPerRequest: null, enableOfflineQueue: true };
  }
  return {
    ...common,
    maxRetriesPerRequest: options.requestMaxRetries ?? REDIS_DEFAULTS.requestMaxRetries,
    enableOfflineQueue: false,
    commandTimeout: options.commandTimeoutMs ?? REDIS_DEFAULTS.commandTimeoutMs,
  };
}

/** The one ioredis connection factory of the platform. */
export function createRedis(options: CreateRedisOptions = {}): Redis {
  const redis = new Redis(options.url ?? DEFAULT_REDIS_URL, buildRedisOptions(options));
  const name = options.name ?? null;
  const purpose = options.purpose ?? "queue";
  if (options.coalesceWrites ?? purpose === "queue") coalesceWrites(redis);
  // Without a listener ioredis prints every connection error to stderr itself.
  redis.on("error", (err: unknown) => {
    options.logger?.warn({ err, redis: name, purpose }, "redis connection error");
  });
  return redis;
}

type WritableSocket = NonNullable<Redis["stream"]>;

/**
 * Makes a connection send the commands of one event-loop iteration (commands, pipelines, MULTI, scripts) in one
 * socket write: the first command corks the socket, and `setImmediate` uncorks it, after the iteration's other
 * I/O callbacks. On a loopback connection each write is a system call that also wakes Redis, and costs the
 * sender tens of µs on a VM; the router's flush (a usage job, a spans job, key marks) paid it once per command.
 * Commands leave in the order they were issued, so replies and their order are unchanged. (Connections that
 * BullMQ duplicates for its blocking commands are not wrapped.)
 */
export function coalesceWrites(redis: Redis): void {
  const send = redis.sendCommand.bind(redis);
  let corked: WritableSocket | null = null;
  const uncork = () => {
    const socket = corked;
    corked = null;
    socket?.uncork();
  };
  redis.sendCommand = (...args: Parameters<Redis["sendCommand"]>) => {
    const socket = redis.stream;
    if (corked === null && socket && socket.writable && !socket.destroyed) {
      socket.cork();
      corked = socket;
      setImmediate(uncork);
    }
    return send(...args);
  };
}

/** QUIT (lets pending replies arrive), falling back to a hard disconnect when Redis does not answer. */
export async function closeRedis(redis: Redis, timeoutMs = 2_000): Promise<void> {
  if (redis.status === "end") return;
  if (redis.status === "wait") {
    redis.disconnect();
    return;
  }
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timedOut = new Promise<"timeout">((resolve) => {
    timer = setTimeout(() => resolve("timeout"), timeoutMs);
  });
  try {
    const outcome = await Promise.race([redis.quit().then(() => "quit" as const), timedOut]);
    if (outcome === "timeout") redis.disconnect();
  } catch {
    redis.disconnect();
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Resolves once the connection is ready (connecting a lazy one). A `request` connection rejects commands
 * until then, so services await this at boot before serving.
 */
export function waitForRedis(redis: Redis, timeoutMs = 5_000): Promise<void> {
  if (redis.status === "ready") return Promise.resolve();
  return new Promise<void>((resolve, reject) => {
    const cleanup = () => {
      clearTimeout(timer);
      redis.off("ready", onReady);
      redis.off("end", onEnd);
    };
    const onReady = () => {
      cleanup();
      resolve();
    };
    const onEnd = () => {
      cleanup();
      reject(new Error("redis connection ended before it was ready"));
    };
    const timer = setTimeout(() => {
      cleanup();
      reject(new Error(`redis not ready after ${timeoutMs} ms`));
    }, timeoutMs);
    redis.on("ready", onReady);
    redis.on("end", onEnd);
    // connect() rejects on the first failed attempt while the retry strategy keeps trying; "ready" decides.
    if (redis.status === "wait") redis.connect().catch(() => undefined);
  });
}
