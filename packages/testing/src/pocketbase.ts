import { type ChildProcess, execFile, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { closeSync, openSync, readFileSync, rmSync } from "node:fs";
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as delay } from "node:timers/promises";
import { promisify } from "node:util";
import PocketBase from "pocketbase";
import { POCKETBASE_BIN, POCKETBASE_BUILD_SCRIPT, POCKETBASE_MIGRATIONS_DIR } from "./paths.ts";

const execFileAsync = promisify(execFile);

export interface StartPocketBaseOptions {
  adminEmail?: string;
  adminPassword?: string;
  /** Defaults to infra/pocketbase/pb_migrations. */
  migrationsDir?: string;
  /** Serve an existing data directory instead of a fresh one; it is left in place by stop(). */
  dataDir?: string;
  startTimeoutMs?: number;
}

export interface StartedPocketBase {
  url: string;
  adminEmail: string;
  adminPassword: string;
  /** The PocketBase data directory (data.db, auxiliary.db); stop() removes it unless it was passed in. */
  dataDir: string;
  stop(): Promise<void>;
}

let binaryBuild: Promise<string> | undefined;

/** Builds infra/pocketbase/bin/pocketbase when missing or stale (the build script is instant otherwise). */
export function ensurePocketBaseBinary(): Promise<string> {
  binaryBuild ??= execFileAsync("bash", [POCKETBASE_BUILD_SCRIPT], { maxBuffer: 16 << 20 }).then(
    () => POCKETBASE_BIN,
    (error: unknown) => {
      binaryBuild = undefined;
      throw new Error(
        `Building PocketBase failed: ${error instanceof Error ? error.message : String(error)}`,
      );
    },
  );
  return binaryBuild;
}

/**
 * Starts a throwaway PocketBase with every migration applied and an operator superuser, on a free port
 * of 127.0.0.1. Call stop() in afterAll; processes still running when this process exits are killed.
 */
export async function startPocketBase(options: StartPocketBaseOptions = {}): Promise<StartedPocketBase> {
  const bin = await ensurePocketBaseBinary();
  const adminEmail = options.adminEmail ?? "operator@cloudfreedom.test";
  const adminPassword = options.adminPassword ?? randomBytes(18).toString("base64url");
  const migrationsDir = options.migrationsDir ?? POCKETBASE_MIGRATIONS_DIR;
  // root holds the serve logs and, unless the caller brings one, the data directory.
  const root = await mkdtemp(join(tmpdir(), "cf-pocketbase-"));
  const dataDir = options.dataDir ?? join(root, "pb_data");
  await mkdir(dataDir, { recursive: true });
  const common = ["--dir", dataDir, "--migrationsDir", migrationsDir];

  try {
    // `--` ends the flags: a generated password may start with "-", and PocketBase exits 0 on a CLI error.
    await execFileAsync(bin, ["superuser", "upsert", ...common, "--", adminEmail, adminPassword]);
    // A port picked free can be taken before PocketBase binds it; try again with another.
    for (let attempt = 1; ; attempt++) {
      const port = await freePort();
      const url = `http://127.0.0.1:${port}`;
      const logFile = join(root, `serve-${attempt}.log`);
      const child = spawnDetachedFromLoop(
        bin,
        ["serve", "--http", `127.0.0.1:${port}`, ...common],
        logFile,
        root,
      );
      const outcome = await waitUntilHealthy(url, child, options.startTimeoutMs ?? 30_000);
      // Two suites can pick the same free port: the loser's health check may be answered by the winner's
      // PocketBase. Only an instance our own superuser can log into is ours.
      if (outcome === "healthy" && (await isOurs(url, adminEmail, adminPassword, child))) {
        return { url, adminEmail, adminPassword, dataDir, stop: once(() => stopProcess(child, root)) };
      }
      await stopProcess(child, undefined);
      const log = readFileSync(logFile, "utf8");
      const collided = outcome === "healthy" || (outcome === "exited" && /address already in use/i.test(log));
      if (collided && attempt < 5) continue;
      throw new Error(`PocketBase did not become healthy at ${url} (${outcome}). Its output:\n${log}`);
    }
  } catch (error) {
    await rm(root, { recursive: true, force: true });
    throw error;
  }
}

async function isOurs(url: string, email: string, password: string, child: ChildProcess): Promise<boolean> {
  if (child.exitCode !== null || child.signalCode !== null) return false;
  try {
    await pocketBaseClient(url).collection("_superusers").authWithPassword(email, password);
    return child.exitCode === null;
  } catch {
    return false;
  }
}

/** An SDK client without auto-cancellation (tests issue parallel requests on purpose). */
export function pocketBaseClient(url: string): PocketBase {
  const pb = new PocketBase(url);
  pb.autoCancellation(false);
  return pb;
}

export async function connectAsSuperuser(
  instance: Pick<StartedPocketBase, "url" | "adminEmail" | "adminPassword">,
): Promise<PocketBase> {
  const pb = pocketBaseClient(instance.url);
  await pb.collection("_superusers").authWithPassword(instance.adminEmail, instance.adminPassword);
  return pb;
}

// Children still alive when this process exits, with the temp dir each one owns.
const running = new Map<ChildProcess, string>();
let exitHookInstalled = false;

function killAllSync(): void {
  for (const [child, root] of running) {
    child.kill("SIGKILL");
    rmSync(root, { recursive: true, force: true });
  }
  running.clear();
}

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once("exit", killAllSync);
  for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
    process.once(signal, () => {
      killAllSync();
      // Our listener is gone now, so the re-raised signal gets its default (or vitest's) handling.
      process.kill(process.pid, signal);
    });
  }
}

/** Output goes to a file and the child is unref'd, so a forgotten instance never keeps a test run alive. */
function spawnDetachedFromLoop(bin: string, args: string[], logFile: string, root: string): ChildProcess {
  installExitHook();
  const fd = openSync(logFile, "a");
  try {
    const child = spawn(bin, args, { stdio: ["ignore", fd, fd] });
    child.unref();
    running.set(child, root);
    return child;
  } finally {
    closeSync(fd);
  }
}

function isRunning(child: ChildProcess): boolean {
  return child.exitCode === null && child.signalCode === null;
}

async function waitUntilHealthy(
  url: string,
  child: ChildProcess,
  timeoutMs: number,
): Promise<"healthy" | "exited" | "timed out"> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (!isRunning(child)) return "exited";
    try {
      const response = await fetch(`${url}/api/health`, { signal: AbortSignal.timeout(1_000) });
      if (response.ok) return "healthy";
    } catch {
      // not listening yet
    }
    await delay(50);
  }
  return "timed out";
}

async function stopProcess(child: ChildProcess, root: string | undefined): Promise<void> {
  running.delete(child);
  if (isRunning(child)) {
    child.ref();
    const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
    child.kill("SIGTERM");
    const killTimer = setTimeout(() => child.kill("SIGKILL"), 5_000);
    await exited;
    clearTimeout(killTimer);
  }
  if (root) await rm(root, { recursive: true, force: true });
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

function once(fn: () => Promise<void>): () => Promise<void> {
  let result: Promise<void> | undefined;
  return () => {
    result ??= fn();
    return result;
  };
}
