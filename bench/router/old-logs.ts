import { readdirSync, rmSync, statSync } from "node:fs";
import { isRunning } from "./proc.ts";

/** Where each bench run's router logs go: `<dir>/cloudfreedom-bench-router-<bench pid>.<port>.{log,stderr}`. */
export const LOG_DIR = "/tmp";
export const ROUTER_LOG_PREFIX = "cloudfreedom-bench-router-";
const ROUTER_LOG = new RegExp(`^${ROUTER_LOG_PREFIX}(\\d+)\\.\\d+\\.(log|stderr)$`);

/**
 * The router log files of bench runs that have ended (their bench's pid is gone): a run keeps its own logs
 * for reading afterwards, and the next run removes them, so /tmp holds one run's logs rather than every run's.
 * A pid taken again by another process keeps its old logs one more run; a running bench's are never named.
 */
export function endedRunLogs(names: readonly string[], running: (pid: number) => boolean): string[] {
  return names.filter((name) => {
    const match = ROUTER_LOG.exec(name);
    return match !== null && !running(Number(match[1]));
  });
}

/** Removes the ended runs' router logs from `dir`; returns how many files and bytes went. */
export function removeEndedRunLogs(dir: string): { files: number; bytes: number } {
  let names: string[];
  try {
    names = readdirSync(dir).filter((name) => name.startsWith(ROUTER_LOG_PREFIX));
  } catch {
    return { files: 0, bytes: 0 };
  }
  let files = 0;
  let bytes = 0;
  for (const name of endedRunLogs(names, isRunning)) {
    const path = `${dir}/${name}`;
    try {
      const size = statSync(path).size;
      rmSync(path);
      files += 1;
      bytes += size;
    } catch {
      // Gone already (another bench removed it), or not ours to remove: left.
    }
  }
  return { files, bytes };
}
