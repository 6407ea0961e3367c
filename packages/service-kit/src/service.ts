import { AppError, acceptRequestId, type HealthBody, type ReadyBody } from "@cloudfreedom/shared";
import { type Context, Hono } from "hono";
import { bodyLimit } from "hono/body-limit";
import "./context.ts";
import { errorResponse } from "./errors.ts";
import { type Logger, requestLogWriter } from "./logger.ts";

export type DependencyCheck = () => Promise<boolean>;

export interface ServiceOptions {
  name: string;
  version?: string;
  logger: Logger;
  /** Checks for `/ready`: each must resolve quickly to true/false and never throw. */
  readiness: { database: DependencyCheck; redis: DependencyCheck };
  /** Largest accepted request body in bytes (413 beyond it). */
  maxBodyBytes?: number;
  /** Log one line per request (request id, tenant, status, latency). */
  logRequests?: boolean;
}

export interface Service {
  app: Hono;
  /** Called on SIGTERM: `/ready` answers 503 from then on so load balancers stop sending traffic. */
  markDraining(): void;
  /** The service's own resources to close after in-flight requests drained (flushers, subscribers). */
  onClose?: () => Promise<void>;
}

const DEFAULT_MAX_BODY = 4 * 1024 * 1024;

async function check(fn: DependencyCheck): Promise<boolean> {
  try {
    return await fn();
  } catch {
    return false;
  }
}

/** One segment of a Hono route path as a regular expression: `:name{re}` is `re`, `:name` one segment. */
function segmentPattern(segment: string): string {
  if (segment === "*") return ".*";
  const param = /^:[A-Za-z0-9_]+(?:\{(.+)\})?(\?)?$/.exec(segment);
  if (param) return `(?:${param[1] ?? "[^/]+"})${param[2] ?? ""}`;
  return segment.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/**
 * The methods an app routes for a path (as Hono matches it: a `:param{re}` by its expression, `*` anything),
 * compiled on the first call: by then every route is registered. A path known under other methods gets 405.
 */
function routeMethods(app: Hono): (path: string) => string[] {
  let compiled: Array<{ method: string; pattern: RegExp }> | undefined;
  return (path) => {
    compiled ??= app.routes
      .filter((route) => route.method !== "ALL")
      .map((route) => ({
        method: route.method,
        pattern: new RegExp(`^${route.path.split("/").map(segmentPattern).join("/")}$`),
      }));
    const methods = compiled.filter((route) => route.pattern.test(path)).map((route) => route.method);
    return [...new Set(methods)];
  };
}

/**
 * Whether `app` has a route for this method and path (not counting `use` middleware), for middleware that
 * should leave an unknown route or method to the 404 / 405 answer instead of asking for credentials first.
 * Read at the first call, once every route is registered.
 */
export function routeExists(app: Hono): (method: string, path: string) => boolean {
  const methods = routeMethods(app);
  return (method, path) => {
    const allowed = methods(path);
    return allowed.includes(method) || (method === "HEAD" && allowed.includes("GET"));
  };
}

/** Sets a header on the context's response; one with immutable headers (a fetched one) is copied first. */
function withHeader(c: Context, name: string, value: string): void {
  try {
    c.res.headers.set(name, value);
  } catch {
    const copy = new Response(c.res.body, c.res);
    copy.headers.set(name, value);
    c.res = copy;
  }
}

/**
 * The Hono app every service starts from: request id, request logging, body limit, the single error
 * mapping of DESIGN.md §8, the 404 envelope, `/health` (liveness) and `/ready` (PocketBase + Redis).
 */
export function createService(options: ServiceOptions): Service {
  const app = new Hono();
  const startedAt = Date.now();
  const version = options.version ?? "0.1.0";
  let draining = false;

  const logRequest = requestLogWriter(options.logger);
  app.use("*", async (c, next) => {
    const requestId = acceptRequestId(c.req.header("x-request-id"));
    c.set("requestId", requestId);
    c.set("logger", options.logger);
    c.header("x-request-id", requestId);
    const start = performance.now();
    await next();
    // A handler that returns its own Response (a stream, a CSV export) bypasses headers set on the context.
    if (!c.res.headers.has("x-request-id")) withHeader(c, "x-request-id", requestId);
    if (options.logRequests !== false && c.req.path !== "/health") {
      logRequest({
        request_id: requestId,
        tenant: c.get("tenantId"),
        method: c.req.method,
        path: c.req.path,
        status: c.res.status,
        latency_ms: Math.round((performance.now() - start) * 1000) / 1000,
      });
    }
  });

  const maxBody = options.maxBodyBytes ?? DEFAULT_MAX_BODY;
  const tooLarge = () => {
    throw new AppError("payload_too_large", `Request body is larger than ${maxBody} bytes`, {
      max_bytes: maxBody,
    });
  };
  // Hono's bodyLimit counts a streamed (chunked) body as it reads it.
  const limitStream = bodyLimit({ maxSize: maxBody, onError: tooLarge });
  app.use("*", (c, next) => {
    // A declared length is checked without touching the body: `Request.body` would build a web stream that
    // the handler's `text()` then has to read through (~10 % of a bare Bun server's requests per second).
    const length = c.req.header("content-length");
    if (length !== undefined && c.req.header("transfer-encoding") === undefined)
      return Number(length) > maxBody ? tooLarge() : next();
    return limitStream(c, next);
  });

  app.onError((error, c) => errorResponse(c, error));
  const allowedMethods = routeMethods(app);
  app.notFound((c) => {
    const { method, path } = c.req;
    const allowed = allowedMethods(path).filter((other) => other !== method);
    if (allowed.length === 0)
      return errorResponse(c, new AppError("not_found", `No route for ${method} ${path}`, { path }));
    return errorResponse(
      c,
      new AppError(
        "method_not_allowed",
        `${method} is not allowed on ${path}; use ${allowed.join(" or ")}`,
        { path, allowed },
        { allow: allowed.join(", ") },
      ),
    );
  });

  app.get("/health", (c) => {
    const body: HealthBody = {
      status: "ok",
      service: options.name,
      version,
      uptime_s: Math.round((Date.now() - startedAt) / 1000),
      timestamp: new Date().toISOString(),
    };
    return c.json(body);
  });

  app.get("/ready", async (c) => {
    const [database, redis] = await Promise.all([
      check(options.readiness.database),
      check(options.readiness.redis),
    ]);
    const ready = database && redis && !draining;
    const body: ReadyBody = {
      status: ready ? "ready" : "not_ready",
      database: database ? "connected" : "disconnected",
      redis: redis ? "connected" : "disconnected",
      timestamp: new Date().toISOString(),
    };
    return c.json(draining ? { ...body, draining: true } : body, ready ? 200 : 503);
  });

  return {
    app,
    markDraining: () => {
      draining = true;
    },
  };
}
