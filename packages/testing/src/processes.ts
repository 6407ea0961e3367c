import { type ChildProcess, spawn } from "node:child_process";
import { createServer } from "node:net";
import { join } from "node:path";
import { REPO_ROOT } from "./paths.ts";

/** The real Bun binary: `node_modules/.bin/bun` is a shell wrapper that would not pass signals on. */
export const BUN_BIN = process.env.BUN_BIN ?? join(REPO_ROOT, "node_modules", "bun", "bin", "bun.exe");

/** A port the OS says is free right now. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

export interface ServiceProcess {
  url: string;
  child: ChildProcess;
  /** Everything the process wrote to stdout and stderr so far. */
  output(): string;
  /** Parsed JSON log lines so far. */
  logs(): Array<Record<string, unknown>>;
  /**
   * The log lines once what the process logged until now has been written: services buffer stdout and
   * write it at least every 100 ms (service-kit's LOG_FLUSH_MS). For assertions that count lines.
   */
  flushedLogs(): Promise<Array<Record<string, unknown>>>;
  /** Resolves with the exit code (null when killed by a signal). */
  exited: Promise<number | null>;
  waitForLog(
    predicate: (entry: Record<string, unknown>) => boolean,
    timeoutMs?: number,
  ): Promise<Record<string, unknown>>;
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/** Longer than service-kit's LOG_FLUSH_MS (100 ms) plus a pipe's delivery. */
const LOG_SETTLE_MS = 300;

const live = new Set<ChildProcess>();
process.once("exit", () => {
  for (const child of live) child.kill("SIGKILL");
});

/**
 * Run `apps/<app>/src/<entry>.ts` as its own Bun process, as production does. For a server, resolves once
 * `/health` answers; for a worker, once it logs that it is consuming. Killed at test-process exit regardless.
 */
export async function startServiceProcess(options: {
  app: string;
  entry?: "server" | "worker";
  env: Record<string, string>;
  port?: number;
  waitUntilUp?: boolean;
  timeoutMs?: number;
}): Promise<ServiceProcess> {
  const entry = options.entry ?? "server";
  const port = options.port ?? (entry === "server" ? await freePort() : undefined);
  const child = spawn(BUN_BIN, [join("src", `${entry}.ts`)], {
    cwd: join(REPO_ROOT, "apps", options.app),
    env: {
      PATH: process.env.PATH ?? "",
      HOST: "127.0.0.1",
      LOG_LEVEL: "info",
      ...(port === undefined ? {} : { PORT: String(port) }),
      ...options.env,
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  live.add(child);
  let text = "";
  child.stdout?.on("data", (chunk: Buffer) => {
    text += chunk.toString();
  });
  child.stderr?.on("data", (chunk: Buffer) => {
    text += chunk.toString();
  });
  const exited = new Promise<number | null>((resolve) => {
    child.once("exit", (code) => {
      live.delete(child);
      resolve(code);
    });
  });
  const logs = () =>
    text.split("\n").flatMap((line) => {
      if (!line.startsWith("{")) return [];
      try {
        return [JSON.parse(line) as Record<string, unknown>];
      } catch {
        return [];
      }
    });
  const waitForLog: ServiceProcess["waitForLog"] = async (predicate, timeoutMs = 15_000) => {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const found = logs().find(predicate);
      if (found) return found;
      if (child.exitCode !== null) break;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    throw new Error(`${options.app} ${entry}: expected log line not seen; output:\n${text}`);
  };
  const handle: ServiceProcess = {
    url: `http://127.0.0.1:${port ?? 0}`,
    child,
    output: () => text,
    logs,
    flushedLogs: async () => {
      await new Promise((resolve) => setTimeout(resolve, LOG_SETTLE_MS));
      return logs();
    },
    exited,
    waitForLog,
    stop: async (signal = "SIGTERM") => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
  };
  if (options.waitUntilUp === false) return handle;
  const timeoutMs = options.timeoutMs ?? 20_000;
  if (entry === "server") {
    await waitForHttp(`${handle.url}/health`, timeoutMs, child, () => text);
  } else {
    await waitForLog(
      (entry) => typeof entry.msg === "string" && entry.msg.endsWith("worker consuming"),
      timeoutMs,
    );
  }
  return handle;
}

async function waitForHttp(
  url: string,
  timeoutMs: number,
  child: ChildProcess,
  output: () => string,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null)
      throw new Error(`process exited with ${child.exitCode} before ${url} answered:\n${output()}`);
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(1_000) });
      if (res.ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`${url} did not answer within ${timeoutMs} ms:\n${output()}`);
}
