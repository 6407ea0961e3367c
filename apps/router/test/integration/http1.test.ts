import { execFileSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { BUN_BIN } from "@cloudfreedom/testing";
import { beforeAll, describe, expect, it } from "vitest";

// Http1Client runs on Bun's sockets, so its cases run in a Bun process against raw TCP servers that answer with
// exact bytes (test/fixtures/http1-cases.ts); each `it` checks what one case observed.
const fixture = fileURLToPath(new URL("../fixtures/http1-cases.ts", import.meta.url));
// biome-ignore lint/suspicious/noExplicitAny: the fixture's JSON, checked field by field below.
let cases: Record<string, any>;

beforeAll(() => {
  const out = execFileSync(BUN_BIN, [fixture], { encoding: "utf8", timeout: 60_000 });
  cases = JSON.parse(out.trim().split("\n").at(-1) ?? "{}");
});

describe("the router's HTTP/1.1 upstream client", () => {
  it("sends one well-formed request and reuses the connection for the next", () => {
    const c = cases.keepAlive;
    expect(c).toMatchObject({ status: 200, ok: true, contentType: "application/json", connections: 1 });
    expect(c.bodies.map((b: { n: number }) => b.n)).toEqual([0, 1]);
    expect(c.request).toMatch(/^POST \/v1\/chat\/completions\?x=1 HTTP\/1\.1\r\nhost: 127\.0\.0\.1:\d+\r\n/);
    expect(c.request).toContain("authorization: Bearer sk-test\r\n");
    // The body's UTF-8 bytes (ö is two), not its characters.
    expect(c.request).toContain("content-length: 18\r\n\r\n");
  });

  it("decodes a chunked body split into single bytes, extensions and trailers included", () => {
    expect(cases.chunked).toEqual({
      text: "Wikipedia in \r\n\r\nchunks.",
      again: "Wikipedia in \r\n\r\nchunks.",
      connections: 1,
    });
  });

  it("reads a body without a length until the server closes, and does not reuse that connection", () => {
    expect(cases.untilClose).toEqual({ text: "until close", connections: 2 });
  });

  it("skips an interim 100 Continue and honours connection: close", () => {
    expect(cases.interimAndClose).toEqual({ status: 201, text: "ok", connections: 2 });
  });

  it("fails a request whose kept-alive connection was dropped, without retrying it, and reconnects", () => {
    expect(cases.droppedReused).toEqual({
      error: { name: "UpstreamConnectionError", message: expect.stringMatching(/ECONNRESET|closed/) },
      body: { connection: 1 },
      connections: 2,
      requests: 3,
    });
  });

  it("fails a request whose new connection was dropped before any answer", () => {
    expect(cases.droppedFresh).toEqual({
      error: { name: "UpstreamConnectionError", message: expect.stringMatching(/ECONNRESET|closed/) },
      requests: 1,
    });
  });

  it("returns error statuses as responses, and fails the reader of a body cut short", () => {
    expect(cases.cutAndStatus).toEqual({
      status: 503,
      ok: false,
      retryAfter: "7",
      failedBody: "busy",
      first: "0123456789",
      error: { name: "UpstreamConnectionError", message: expect.stringMatching(/ECONNRESET|closed/) },
    });
  });

  it("hands a stream over chunk by chunk, and an abort fails the reader and closes the connection", () => {
    expect(cases.streamAbort).toEqual({
      reads: ["data: 0\n\n", "data: 1\n\n", "data: 2\n\n"],
      error: { name: "AbortError", message: "The operation was aborted." },
      closedByClient: 1,
      idle: 0,
    });
  });

  it("names the address it could not connect to", () => {
    expect(cases.refused.error.name).toBe("UpstreamConnectionError");
    expect(cases.refused.error.message).toMatch(/^cannot connect to 127\.0\.0\.1:\d+: /);
  });

  it("refuses a header value with a line break before sending anything", () => {
    expect(cases.injection).toEqual({
      error: { name: "TypeError", message: 'header "x-evil" contains a line break' },
      requests: 0,
    });
  });

  it("drops a connection that sent bytes after its answer", () => {
    expect(cases.extraBytes).toEqual({ connections: 2 });
  });

  it("carries a 1 MB request and a 1 MB answer", () => {
    expect(cases.large).toEqual({ requestAtLeast: true, bodyLength: 1024 * 1024 });
  });

  it("carries the first calls at once itself in auto mode and the rest through fetch; http1 and fetch modes one each", () => {
    expect(cases.modes.maxWaiting).toBe(4);
    expect(cases.modes.modes).toEqual({
      auto: { http1: 4, fetch: 2 },
      http1: { http1: 6, fetch: 0 },
      fetch: { http1: 0, fetch: 6 },
    });
  });

  it("leaves plain-HTTP calls to fetch, which honours it, when HTTP_PROXY is set", () => {
    expect(cases.modes.proxiedByFetch).toBe(true);
  });

  it("rejects at once, sending nothing, when aborted while connecting", () => {
    expect(cases.abortWhileConnecting).toEqual({ error: "AbortError", requests: 0 });
  });

  it("does not reuse a connection answered before its request was fully written", () => {
    expect(cases.earlyAnswer).toMatchObject({ first: 413, second: "ok", connections: 2 });
  });

  it("takes a new connection after a server closed right after its answer, without failing a request", () => {
    expect(cases.closesAfterAnswer).toEqual({ failed: 0, connections: 20 });
  });

  it("closes every expired idle connection in one sweep", () => {
    expect(cases.sweep).toEqual({ idle: 8, closedByServerSide: 8, idleAfter: 0 });
  });

  it("fails a read-until-close body cut by a reset instead of ending it as complete", () => {
    expect(cases.resetUntilClose.error?.message).toMatch(/ECONNRESET|reset/i);
  });

  it("sends credentials of the URL as Basic auth", () => {
    expect(cases.basicAuth).toBe(Buffer.from("ollama:s3cr:t").toString("base64"));
  });

  it("follows a redirect through fetch, as a call that went through fetch would have", () => {
    expect(cases.redirect).toEqual({ status: 200, body: { followed: true }, requests: 3 });
  });

  it("closes its idle connections on close()", () => {
    expect(cases.closedIdle).toBe(0);
  });
});
