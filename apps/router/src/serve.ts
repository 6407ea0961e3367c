import type { ServeOptions, ServerHandle } from "@cloudfreedom/service-kit";
import type { RouterEnv } from "./env.ts";

/** Above the router's own bounds: Bun checks idle connections only every 4 s. */
const SLACK_S = 10;

/**
 * Seconds a router request may go without a byte moving on its connection. Bun closes a connection idle for
 * its `idleTimeout` (255 s at most), and a request still in its handler then gets an empty reply. A
 * non-streamed call writes nothing until its answer, which may take up to REQUEST_TIMEOUT_MS (300 s by
 * default); a handed-over stream may wait up to STREAM_IDLE_TIMEOUT_MS between chunks. Both must end by the
 * router's own timers, with a 504 or an error event, so each request's idle timeout is raised past them.
 */
export function requestIdleSeconds(
  env: Pick<RouterEnv, "REQUEST_TIMEOUT_MS" | "STREAM_IDLE_TIMEOUT_MS">,
): number {
  return Math.ceil(Math.max(env.REQUEST_TIMEOUT_MS, env.STREAM_IDLE_TIMEOUT_MS) / 1000) + SLACK_S;
}

/**
 * `Bun.serve` with every request's idle timeout set to `idleSeconds` (`server.timeout`, which, unlike the
 * server-wide option, takes more than 255; one native call per request). It stays on the connection for
 * its keep-alive wait too.
 */
export function serveRouter(options: ServeOptions, idleSeconds: number): ServerHandle {
  return Bun.serve({
    ...options,
    fetch: (request, server) => {
      server.timeout(request, idleSeconds);
      return options.fetch(request);
    },
  });
}
