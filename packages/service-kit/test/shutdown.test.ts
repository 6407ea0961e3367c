import { describe, expect, it } from "vitest";
import { installGracefulShutdown } from "../src/shutdown.ts";
import { silentLogger } from "./helpers.ts";

describe("graceful shutdown", () => {
  it("marks draining, stops accepting, closes in order, then exits 0", async () => {
    const steps: string[] = [];
    let exitCode: number | undefined;
    const shutdown = installGracefulShutdown({
      logger: silentLogger,
      timeoutMs: 1_000,
      signals: [],
      beforeStop: () => steps.push("draining"),
      stopAccepting: async () => {
        await new Promise((resolve) => setTimeout(resolve, 20));
        steps.push("stopped");
      },
      close: [() => steps.push("worker closed"), async () => steps.push("redis closed")],
      exit: (code) => {
        exitCode = code;
      },
    });
    await Promise.all([shutdown(), shutdown()]);
    expect(steps).toEqual(["draining", "stopped", "worker closed", "redis closed"]);
    expect(exitCode).toBe(0);
  });

  it("exits 1 when draining outlasts the timeout", async () => {
    const codes: number[] = [];
    const shutdown = installGracefulShutdown({
      logger: silentLogger,
      timeoutMs: 30,
      signals: [],
      stopAccepting: () => new Promise(() => {}),
      exit: (code) => codes.push(code),
    });
    void shutdown();
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(codes).toEqual([1]);
  });
});

describe("drainWithDeadline", () => {
  it("force-closes what is still open at the deadline, leaving time for the closers", async () => {
    const { drainWithDeadline } = await import("../src/runtime.ts");
    const calls: Array<boolean | undefined> = [];
    const server = {
      stop: (force?: boolean) => {
        calls.push(force);
        return force ? Promise.resolve() : new Promise<void>(() => {});
      },
    };
    await drainWithDeadline(server, 100, silentLogger);
    expect(calls).toEqual([undefined, true]);
  });

  it("returns as soon as in-flight requests drained", async () => {
    const { drainWithDeadline } = await import("../src/runtime.ts");
    const calls: Array<boolean | undefined> = [];
    await drainWithDeadline({ stop: (force) => void calls.push(force) }, 10_000, silentLogger);
    expect(calls).toEqual([undefined]);
  });
});
