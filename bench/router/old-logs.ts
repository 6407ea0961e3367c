import { readdirSync, rmSync, statSync } from "node:fs";

/** Where each bench run's router logs go: `<dir>/cloudfreedom-bench-router-<bench pid>.<port>.{log,stderr}`. */
export const ROUTER_LOG_PREFIX = "cloudfreedom-bench-router-";

/**
 * The router log files of bench runs that have ended (their bench's pid is gone): a run keeps its own logs
 * for reading afterwards, and the next run removes them, so /tmp holds one run's logs rather than every run's.
 */
export function endedRunLogs(names: readonly string[], isRunning: (pid: number) => boolean): string[] {
  return names.filter((name) => {
    const match = /^cloudfreedom-bench-router-(\d+)\.\d+\.(log|stderr)$/.exec(name);
    return match !== null && !isRunning(Number(match[1]));
  });
}

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it runs, as another user.
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
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
