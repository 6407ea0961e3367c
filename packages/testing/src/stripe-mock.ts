import { type ChildProcess, execFile, spawn } from "node:child_process";
import { join } from "node:path";
import { promisify } from "node:util";
import { REPO_ROOT } from "./paths.ts";
import { freePort } from "./processes.ts";

const execFileAsync = promisify(execFile);

export const STRIPE_MOCK_DIR = join(REPO_ROOT, "infra", "stripe-mock");
export const STRIPE_MOCK_BIN = join(STRIPE_MOCK_DIR, "bin", "stripe-mock");

let install: Promise<string> | undefined;

/** Installs stripe-mock with `go install` (infra/stripe-mock/install.sh) unless the pinned version is there. */
export function ensureStripeMockBinary(): Promise<string> {
  install ??= execFileAsync("bash", [join(STRIPE_MOCK_DIR, "install.sh")], { maxBuffer: 16 << 20 }).then(
    () => STRIPE_MOCK_BIN,
    (error: unknown) => {
      install = undefined;
      throw new Error(
        `Installing stripe-mock failed: ${error instanceof Error ? error.message : String(error)}`,
      );
    },
  );
  return install;
}

export interface StartedStripeMock {
  /** e.g. `http://127.0.0.1:41234`, for STRIPE_API_BASE. */
  url: string;
  stop(): Promise<void>;
}

const live = new Set<ChildProcess>();
process.once("exit", () => {
  for (const child of live) child.kill("SIGKILL");
});

/**
 * stripe-mock on a free port of 127.0.0.1: Stripe's API answered from its OpenAPI fixtures (it validates
 * parameters, keeps no state). Killed at test-process exit regardless.
 */
export async function startStripeMock(timeoutMs = 20_000): Promise<StartedStripeMock> {
  const bin = await ensureStripeMockBinary();
  for (let attempt = 1; ; attempt += 1) {
    const port = await freePort();
    // Its HTTPS listener defaults to :12112 for every instance; let the OS pick one so suites run in parallel.
    const args = ["-http-addr", `127.0.0.1:${port}`, "-https-addr", "127.0.0.1:"];
    const child = spawn(bin, args, { stdio: ["ignore", "pipe", "pipe"] });
    live.add(child);
    let output = "";
    child.stdout?.on("data", (chunk: Buffer) => {
      output += chunk.toString();
    });
    child.stderr?.on("data", (chunk: Buffer) => {
      output += chunk.toString();
    });
    const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
    const url = `http://127.0.0.1:${port}`;
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline && child.exitCode === null) {
      try {
        // Any HTTP answer (401 without a key) means it listens.
        await fetch(`${url}/v1/customers`, { signal: AbortSignal.timeout(500) });
        return {
          url,
          stop: async () => {
            live.delete(child);
            if (child.exitCode === null) child.kill("SIGTERM");
            await exited;
          },
        };
      } catch {
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    }
    live.delete(child);
    child.kill("SIGKILL");
    if (attempt >= 3) throw new Error(`stripe-mock did not start on ${url}:\n${output}`);
  }
}
