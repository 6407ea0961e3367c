import { execFileSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { BUN_BIN } from "@cloudfreedom/testing";
import { describe, expect, it } from "vitest";
import { requestIdleSeconds } from "../../src/serve.ts";

const fixture = fileURLToPath(new URL("../fixtures/serve-idle.ts", import.meta.url));

describe("the router's HTTP server", () => {
  it("answers a request whose handler stays silent longer than Bun's idle timeout, within the router's own bounds", () => {
    const out = execFileSync(BUN_BIN, [fixture], { encoding: "utf8", timeout: 30_000 });
    expect(JSON.parse(out.trim().split("\n").at(-1) ?? "{}")).toEqual({ status: 200, body: "the answer" });
  });

  it("keeps each request's connection open past the total timeout and the stream idle timeout", () => {
    expect(requestIdleSeconds({ REQUEST_TIMEOUT_MS: 300_000, STREAM_IDLE_TIMEOUT_MS: 120_000 })).toBe(310);
    expect(requestIdleSeconds({ REQUEST_TIMEOUT_MS: 1_500, STREAM_IDLE_TIMEOUT_MS: 600_500 })).toBe(611);
  });
});
