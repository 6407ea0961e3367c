import { execFileSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { REDIS_URL } from "./helpers.ts";

const BUN =
  process.env.BUN_BIN ?? fileURLToPath(new URL("../../../../node_modules/bun/bin/bun.exe", import.meta.url));
const probe = fileURLToPath(new URL("../fixtures/tracing-probe.ts", import.meta.url));

describe("ioredis tracing under Bun", () => {
  it("traces a command only while someone subscribes to its channel", () => {
    const out = execFileSync(BUN, [probe], { env: { ...process.env, REDIS_URL }, encoding: "utf8" });
    const result = JSON.parse(out.trim().split("\n").at(-1) ?? "{}");
    expect(result).toEqual({
      runtime: "bun",
      // Bun's TracingChannel has no hasSubscribers of its own (undefined): ioredis would trace every command.
      before: false,
      whileSubscribed: true,
      after: false,
      seen: ["echo"],
    });
  });
});
