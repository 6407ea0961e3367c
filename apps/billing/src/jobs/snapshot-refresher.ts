import type { Db } from "@cloudfreedom/db";
import type { Closeable, Logger } from "@cloudfreedom/service-kit";
import type { Redis } from "ioredis";
import { refreshDirtySnapshots } from "../services/budgets/refresh-snapshots.ts";

/** Recomputes stale `budgets` snapshots every `intervalMs` in the worker process (see refreshDirtySnapshots). */
export function startSnapshotRefresher(deps: {
  db: Db;
  redis: Redis;
  logger: Logger;
  intervalMs: number;
}): Closeable {
  let stopped = false;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let running: Promise<void> = Promise.resolve();

  const tick = () => {
    running = (async () => {
      try {
        while (!stopped && (await refreshDirtySnapshots(deps, 100)) === 100) {
          // A full slice: more are waiting, go on without pausing.
        }
      } catch (error) {
        deps.logger.warn({ err: error }, "budget snapshot refresh failed; will retry");
      }
      if (!stopped) timer = setTimeout(tick, deps.intervalMs);
    })();
  };
  timer = setTimeout(tick, deps.intervalMs);

  return {
    close: async () => {
      stopped = true;
      clearTimeout(timer);
      await running;
    },
  };
}
