import type { Logger } from "./logger.ts";

export interface ShutdownOptions {
  logger: Logger;
  timeoutMs: number;
  /** Stop accepting and wait for in-flight work (e.g. `() => server.stop()` on Bun, which drains). */
  stopAccepting: () => Promise<void> | void;
  /** Mark not-ready before draining, so load balancers stop routing here. */
  beforeStop?: () => void;
  /** Then close workers and connections, in order. */
  close?: Array<() => Promise<unknown> | unknown>;
  signals?: NodeJS.Signals[];
  exit?: (code: number) => void;
}

/**
 * SIGTERM/SIGINT: mark draining, stop accepting, drain in-flight requests, close workers and connections,
 * exit 0. If draining exceeds the timeout, exit 1 so the orchestrator knows it was not clean.
 */
export function installGracefulShutdown(options: ShutdownOptions): () => Promise<void> {
  const exit = options.exit ?? ((code: number) => process.exit(code));
  let running: Promise<void> | undefined;

  const shutdown = (signal = "shutdown"): Promise<void> => {
    if (running) return running;
    running = (async () => {
      options.logger.info({ signal }, "shutting down: draining in-flight work");
      const timer = setTimeout(() => {
        options.logger.error({ timeout_ms: options.timeoutMs }, "shutdown timed out; exiting");
        exit(1);
      }, options.timeoutMs);
      timer.unref?.();
      try {
        options.beforeStop?.();
        await options.stopAccepting();
        for (const close of options.close ?? []) await close();
        clearTimeout(timer);
        options.logger.info("shutdown complete");
        exit(0);
      } catch (error) {
        clearTimeout(timer);
        options.logger.error({ err: error }, "shutdown failed");
        exit(1);
      }
    })();
    return running;
  };

  for (const signal of options.signals ?? ["SIGTERM", "SIGINT"]) {
    process.once(signal, () => void shutdown(signal));
  }
  return () => shutdown();
}
