import type { ChildProcess } from "node:child_process";
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { closeRedis, createRedis, queueDepth } from "../../src/index.ts";
import { REDIS_URL, removePrefix, testPrefix, waitFor } from "./helpers.ts";

// The real binary, not `node_modules/.bin/bun`: that pnpm shim is a shell script that does not `exec`, so a
// signal sent to it kills the shell and orphans the bun process underneath.
const BUN =
  process.env.BUN_BIN ?? fileURLToPath(new URL("../../../../node_modules/bun/bin/bun.exe", import.meta.url));
const fixture = (name: string) => fileURLToPath(new URL(`../fixtures/${name}`, import.meta.url));

const connection = createRedis({ url: REDIS_URL, name: "queue-cross-process-test", purpose: "queue" });
const children: ChildProcess[] = [];
const prefixes: string[] = [];

interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

interface RunningChild {
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  exited: Promise<Exit>;
}

function start(script: string, env: Record<string, string>): RunningChild {
  const child = spawn(BUN, [fixture(script)], {
    env: { ...process.env, REDIS_URL, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  children.push(child);
  let stdout = "";
  let stderr = "";
  child.stdout?.on("data", (chunk: Buffer) => {
    stdout += chunk.toString();
  });
  child.stderr?.on("data", (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const exited = new Promise<Exit>((resolve) => {
    child.on("exit", (code, signal) => resolve({ code, signal }));
  });
  return { child, stdout: () => stdout, stderr: () => stderr, exited };
}

function isolatedQueue() {
  const prefix = testPrefix();
  prefixes.push(prefix);
  return { prefix, resultKey: `${prefix}:processed` };
}

async function startWorker(env: Record<string, string>): Promise<RunningChild> {
  const worker = start("usage-worker.ts", env);
  await waitFor(
    () => (worker.stdout().includes("ready") ? true : undefined),
    `the worker to be ready (stderr: ${worker.stderr()})`,
  );
  return worker;
}

async function produce(prefix: string, count: number): Promise<string[]> {
  const producer = start("usage-producer.ts", { QUEUE_PREFIX: prefix, COUNT: String(count) });
  const exit = await producer.exited;
  expect(exit, producer.stderr()).toEqual({ code: 0, signal: null });
  return JSON.parse(producer.stdout().trim());
}

beforeAll(() => connection.ping());
afterAll(async () => {
  for (const child of children) {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  }
  for (const prefix of prefixes) await removePrefix(connection, prefix);
  await closeRedis(connection);
});

describe("usage queue across processes", () => {
  it("delivers every event from a producer process to a worker process exactly once", async () => {
    const { prefix, resultKey } = isolatedQueue();
    const worker = await startWorker({ QUEUE_PREFIX: prefix, RESULT_KEY: resultKey });

    const produced = await produce(prefix, 50);
    expect(new Set(produced).size).toBe(50);
    await waitFor(
      async () => ((await connection.llen(resultKey)) >= 50 ? true : undefined),
      "the worker to process every event",
    );

    worker.child.kill("SIGTERM");
    expect(await worker.exited).toEqual({ code: 0, signal: null });
    expect(worker.stdout()).toContain("closed");

    // Read after the worker is gone, so a late duplicate would show.
    const processed = await connection.lrange(resultKey, 0, -1);
    expect(processed.slice().sort()).toEqual(produced.slice().sort());
    expect(await queueDepth("usage", { connection, prefix })).toEqual({
      waiting: 0,
      active: 0,
      delayed: 0,
      failed: 0,
      completed: 50,
    });
  });

  it("finishes the jobs in flight when the worker is asked to stop, and leaves the rest waiting", async () => {
    const { prefix, resultKey } = isolatedQueue();
    const produced = await produce(prefix, 20);
    const worker = await startWorker({
      QUEUE_PREFIX: prefix,
      RESULT_KEY: resultKey,
      HANDLER_DELAY_MS: "300",
    });
    await waitFor(
      async () => ((await queueDepth("usage", { connection, prefix })).active > 0 ? true : undefined),
      "jobs to be in flight",
    );

    worker.child.kill("SIGTERM");
    expect(await worker.exited).toEqual({ code: 0, signal: null });

    const processed = await connection.lrange(resultKey, 0, -1);
    const depth = await queueDepth("usage", { connection, prefix });
    expect(processed.length).toBeGreaterThan(0);
    expect(depth).toEqual({
      waiting: 20 - processed.length,
      active: 0,
      delayed: 0,
      failed: 0,
      completed: processed.length,
    });
    expect(new Set(processed).size).toBe(processed.length);
    expect(produced).toEqual(expect.arrayContaining(processed));
  });
});
