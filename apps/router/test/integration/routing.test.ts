import { UsageBatch, type UsageEvent } from "@cloudfreedom/shared";
import { Queue } from "bullmq";
import OpenAI from "openai";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { model, type RouterStack, startRouterStack } from "./stack.ts";

// Failure handling with real HTTP: emulators inject the failure, the router process handles it.
let stack: RouterStack;

beforeAll(async () => {
  stack = await startRouterStack(
    {
      UPSTREAM_TIMEOUT_MS: "300",
      // Three attempts of a non-streamed call outlast the total: the total budget's test below needs that.
      UPSTREAM_RESPONSE_TIMEOUT_MS: "600",
      REQUEST_TIMEOUT_MS: "1500",
      STREAM_IDLE_TIMEOUT_MS: "800",
      CIRCUIT_FAILURE_THRESHOLD: "3",
      CIRCUIT_COOLDOWN_MS: "4000",
    },
    {
      models: [
        model("claude-fallback-test", [
          ["anthropic", "claude-3-5-sonnet-20241022", 1_000_000],
          ["backup", "gpt-4o-mini", 1],
        ]),
        model("gemini-fallback-test", [
          ["gemini", "gemini-2.0-flash", 1_000_000],
          ["backup", "gpt-4o-mini", 1],
        ]),
        model(
          "embed-fallback-test",
          [
            ["openai", "text-embedding-3-small", 1_000_000],
            ["backup", "text-embedding-3-small", 1],
          ],
          { capabilities: ["embeddings"] },
        ),
        // A deployment's own failure counts against its circuit breaker: each such test has a deployment
        // of its own, so the breakers the other tests use stay closed.
        model("own-401-test", [
          ["openai", "gpt-own-401", 1_000_000],
          ["backup", "gpt-4o-mini", 1],
        ]),
        model("own-404-test", [
          ["openai", "gpt-own-404", 1_000_000],
          ["backup", "gpt-4o-mini", 1],
        ]),
        model("own-anthropic-test", [
          ["anthropic", "claude-own", 1_000_000],
          ["backup", "gpt-4o-mini", 1],
        ]),
        model("own-gemini-test", [
          ["gemini", "gemini-own", 1_000_000],
          ["backup", "gpt-4o-mini", 1],
        ]),
        model("stream-circuit-test", [
          ["openai", "gpt-4.1", 1_000_000],
          ["backup", "gpt-4.1", 1],
        ]),
      ],
    },
  );
});
afterAll(async () => {
  await stack?.stop();
});
beforeEach(() => {
  for (const emulator of Object.values(stack.emulators)) emulator.reset();
});

const chat = (model: string, extra: Record<string, unknown> = {}) =>
  fetch(`${stack.url}/v1/chat/completions`, {
    method: "POST",
    headers: { authorization: `Bearer ${stack.key}`, "content-type": "application/json" },
    body: JSON.stringify({ model, messages: [{ role: "user", content: "route me" }], ...extra }),
  });

describe("fallbacks", () => {
  it("falls back to the next deployment when the first answers 503, and says so in headers", async () => {
    stack.emulators.openai.enqueue({ status: 503 });
    const res = await chat("fallback-test");
    expect(res.status).toBe(200);
    expect(res.headers.get("x-cloudfreedom-deployment")).toBe("backup/gpt-4o-mini");
    expect(res.headers.get("x-cloudfreedom-attempts")).toBe("2");
    expect(stack.emulators.openai.counts.requests).toBe(1);
    expect(stack.emulators.backup.counts.requests).toBe(1);
  });

  it("falls back on a connection reset", async () => {
    stack.emulators.openai.enqueue({ disconnect: true });
    const res = await chat("fallback-test");
    expect(res.status).toBe(200);
    expect(res.headers.get("x-cloudfreedom-provider")).toBe("backup");
  });

  it("does not fall back on a request the provider rejects as invalid (400)", async () => {
    stack.emulators.openai.enqueue({ status: 400 });
    const res = await chat("fallback-test");
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ code: "invalid_request" });
    expect(stack.emulators.openai.counts.requests).toBe(1);
    expect(stack.emulators.backup.counts.requests).toBe(0);
  });

  it.each([
    ["the platform's key is refused (401)", "own-401-test", "openai", 401, undefined],
    ["the model is missing there (404)", "own-404-test", "openai", 404, undefined],
    [
      "Anthropic's billing_error",
      "own-anthropic-test",
      "anthropic",
      402,
      { type: "error", error: { type: "billing_error", message: "Your credit balance is too low" } },
    ],
    [
      "Gemini's FAILED_PRECONDITION (region)",
      "own-gemini-test",
      "gemini",
      400,
      { error: { code: 400, message: "User location is not supported", status: "FAILED_PRECONDITION" } },
    ],
  ] as const)(
    "falls back to the next deployment when %s, and does not retry the first",
    async (_, modelId, provider, status, body) => {
      stack.emulators[provider].setDefault({ status, ...(body ? { body } : {}) });
      stack.emulators.backup.enqueue({ status: 503 });
      const res = await chat(modelId);
      stack.emulators[provider].setDefault();
      expect(res.status).toBe(200);
      expect(res.headers.get("x-cloudfreedom-provider")).toBe("backup");
      // First deployment, backup's 503, backup again after the backoff: the first is not retried.
      expect(res.headers.get("x-cloudfreedom-attempts")).toBe("3");
      expect(stack.emulators[provider].counts.requests).toBe(1);
      expect(stack.emulators.backup.counts.requests).toBe(2);
    },
  );

  it("retries the preferred deployment after the backoff when every deployment failed", async () => {
    stack.emulators.openai.enqueue({ status: 503 });
    stack.emulators.backup.enqueue({ status: 503 });
    const res = await chat("fallback-test");
    expect(res.status).toBe(200);
    expect(res.headers.get("x-cloudfreedom-deployment")).toBe("openai/gpt-4o-mini");
    expect(res.headers.get("x-cloudfreedom-attempts")).toBe("3");
    expect(stack.emulators.openai.counts.requests).toBe(2);
    expect(stack.emulators.backup.counts.requests).toBe(1);
  });
});

describe("retries", () => {
  it("retries a single deployment after a 429, honouring Retry-After, then succeeds", async () => {
    stack.emulators.anthropic.enqueue({ status: 429, headers: { "retry-after": "0" } }, 2);
    const res = await chat("claude-test");
    expect(res.status).toBe(200);
    expect(res.headers.get("x-cloudfreedom-attempts")).toBe("3");
    expect(stack.emulators.anthropic.counts.requests).toBe(3);
  });

  it("gives up after MAX_ATTEMPTS with the provider's failure", async () => {
    stack.emulators.ollama.enqueue({ status: 500 }, 5);
    const res = await chat("llama-test");
    expect(res.status).toBe(502);
    expect(await res.json()).toMatchObject({ code: "upstream_error", details: { upstream_status: 500 } });
    expect(stack.emulators.ollama.counts.requests).toBe(3);
    // The failure says what was tried, as an answer does.
    expect(res.headers.get("x-cloudfreedom-attempts")).toBe("3");
    expect(res.headers.get("x-cloudfreedom-deployment")).toMatch(/^ollama\//);
  });
});

describe("timeouts", () => {
  it("abandons a stream whose upstream does not answer within the per-attempt timeout and falls back", async () => {
    stack.emulators.openai.enqueue({ hang: true });
    const res = await chat("fallback-test", { stream: true });
    expect(res.status).toBe(200);
    expect(res.headers.get("x-cloudfreedom-provider")).toBe("backup");
  });

  it.each([
    [
      "chat completion",
      "/v1/chat/completions",
      { model: "fallback-test", messages: [{ role: "user", content: "hi" }] },
    ],
    ["embedding", "/v1/embeddings", { model: "embed-fallback-test", input: "hi" }],
  ])(
    "abandons a non-streamed %s the first deployment holds beyond the per-attempt timeout and falls back",
    async (_, path, body) => {
      stack.emulators.openai.enqueue({ delayMs: 5_000 });
      const res = await fetch(`${stack.url}${path}`, {
        method: "POST",
        headers: { authorization: `Bearer ${stack.key}`, "content-type": "application/json" },
        body: JSON.stringify(body),
      });
      expect(res.status).toBe(200);
      expect(res.headers.get("x-cloudfreedom-provider")).toBe("backup");
      expect(res.headers.get("x-cloudfreedom-attempts")).toBe("2");
      expect(Number(res.headers.get("x-cloudfreedom-cost-micros"))).toBeGreaterThan(0);
      expect(stack.emulators.openai.counts.requests).toBe(1);
      expect(stack.emulators.backup.counts.requests).toBe(1);
      // The abandoned attempt's connection was closed, not left to the provider.
      const deadline = Date.now() + 3_000;
      while (stack.emulators.openai.aborted === 0 && Date.now() < deadline)
        await new Promise((r) => setTimeout(r, 50));
      expect(stack.emulators.openai.aborted).toBe(1);
    },
  );

  it("answers 504 upstream_timeout when the request's whole time budget runs out", async () => {
    stack.emulators.gemini.setDefault({ delayMs: 2_000 });
    const res = await chat("gemini-test");
    expect(res.status).toBe(504);
    expect(await res.json()).toMatchObject({
      code: "upstream_timeout",
      message: expect.stringContaining("REQUEST_TIMEOUT_MS"),
    });
    stack.emulators.gemini.setDefault();
  });
});

describe("answers that are not completions", () => {
  it("treats a 200 carrying an error object as a provider failure (502), not a server error", async () => {
    stack.emulators.openai.enqueue({ status: 200, body: { error: { message: "no credits left" } } });
    const res = await chat("gpt-test");
    expect(res.status).toBe(502);
    expect(await res.json()).toMatchObject({
      code: "upstream_error",
      message: expect.stringContaining("no credits left"),
    });
  });
});

/** A streamed chat read to its end: the events' JSON (`[DONE]` as is). */
async function streamed(res: Response): Promise<unknown[]> {
  const text = await res.text();
  return text
    .split("\n\n")
    .filter(Boolean)
    .map((event) => event.replace(/^data: /, ""))
    .map((data) => (data === "[DONE]" ? data : JSON.parse(data)));
}

describe("a stream whose provider fails after its 200, before any content", () => {
  it("falls back when an OpenAI-compatible stream opens with an error chunk (official SDK)", async () => {
    stack.emulators.openai.enqueue({ failAfterChunks: 0 });
    const client = new OpenAI({ apiKey: stack.key, baseURL: `${stack.url}/v1`, maxRetries: 0 });
    const { data: stream, response } = await client.chat.completions
      .create({ model: "fallback-test", messages: [{ role: "user", content: "route me" }], stream: true })
      .withResponse();
    let text = "";
    for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? "";
    expect(text).toBe("Echo: route me");
    expect(response.headers.get("x-cloudfreedom-deployment")).toBe("backup/gpt-4o-mini");
    expect(response.headers.get("x-cloudfreedom-attempts")).toBe("2");
    expect(stack.emulators.openai.counts).toMatchObject({ streams: 1, injected: 1 });
    expect(stack.emulators.backup.counts.streams).toBe(1);
  });

  it.each([
    ["Anthropic's overloaded_error event", "claude-fallback-test", "anthropic"],
    ["Gemini's UNAVAILABLE error JSON", "gemini-fallback-test", "gemini"],
  ] as const)("falls back on %s as the first event", async (_, modelId, provider) => {
    stack.emulators[provider].enqueue({ failAfterChunks: 0 });
    const res = await chat(modelId, { stream: true });
    expect(res.status).toBe(200);
    expect(res.headers.get("x-cloudfreedom-provider")).toBe("backup");
    const events = await streamed(res);
    expect(events.at(-1)).toBe("[DONE]");
    expect(events.some((event) => typeof event === "object" && event !== null && "error" in event)).toBe(
      false,
    );
    expect(stack.emulators[provider].counts).toMatchObject({ streams: 1, injected: 1 });
  });

  it.each([
    [
      "Anthropic's overloaded_error after message_start, content_block_start and ping",
      "claude-fallback-test",
      "anthropic",
      3,
    ],
    ["an OpenAI-compatible error chunk after the role chunk", "fallback-test", "openai", 1],
  ] as const)("falls back on %s (nothing but a role was read)", async (_, modelId, provider, frames) => {
    stack.emulators[provider].enqueue({ failAfterChunks: frames });
    const res = await chat(modelId, { stream: true });
    expect(res.status).toBe(200);
    expect(res.headers.get("x-cloudfreedom-deployment")).toBe("backup/gpt-4o-mini");
    expect(res.headers.get("x-cloudfreedom-attempts")).toBe("2");
    const events = await streamed(res);
    const deltas = events.flatMap((event) =>
      typeof event === "object" && event !== null && "choices" in event
        ? (event as { choices: Array<{ delta: { role?: string; content?: string } }> }).choices.map(
            (choice) => choice.delta,
          )
        : [],
    );
    // The backup's role chunk comes first, once; the failed attempt's never reached the client.
    expect(deltas.filter((delta) => delta.role !== undefined)).toHaveLength(1);
    expect(deltas[0]?.role).toBe("assistant");
    expect(deltas.map((delta) => delta.content ?? "").join("")).toBe("Echo: route me");
    expect(events.at(-1)).toBe("[DONE]");
    expect(events.some((event) => typeof event === "object" && event !== null && "error" in event)).toBe(
      false,
    );
    expect(stack.emulators[provider].counts).toMatchObject({ streams: 1, injected: 1 });
    expect(stack.emulators.backup.counts.streams).toBe(1);
  });

  it("counts such failures against the deployment's circuit breaker", async () => {
    stack.emulators.openai.setDefault({ failAfterChunks: 0 });
    for (let i = 0; i < 3; i++) {
      const res = await chat("stream-circuit-test", { stream: true });
      expect(res.headers.get("x-cloudfreedom-attempts")).toBe("2");
      await res.text();
    }
    const before = stack.emulators.openai.counts.requests;
    const res = await chat("stream-circuit-test", { stream: true });
    expect(res.headers.get("x-cloudfreedom-attempts")).toBe("1");
    expect(res.headers.get("x-cloudfreedom-provider")).toBe("backup");
    await res.text();
    expect(stack.emulators.openai.counts.requests).toBe(before);
    stack.emulators.openai.setDefault();
  });

  it("answers a first event that is the request's fault with the provider's error status, not a stream", async () => {
    stack.emulators.anthropic.enqueue({
      failAfterChunks: 0,
      body: { type: "error", error: { type: "invalid_request_error", message: "prompt is too long" } },
    });
    const res = await chat("claude-fallback-test", { stream: true });
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({
      code: "invalid_request",
      message: expect.stringContaining("prompt is too long"),
    });
    expect(stack.emulators.backup.counts.requests).toBe(0);
  });
});

describe("a stream handed to the client", () => {
  const words = Array.from({ length: 45 }, (_, n) => `w${n}`).join(" ");

  /** The usage event the router queued for this request. */
  async function usageOf(requestId: string): Promise<UsageEvent> {
    const queue = new Queue("usage", { connection: { url: stack.redisDb.url }, prefix: "cf" });
    try {
      const deadline = Date.now() + 5_000;
      while (Date.now() < deadline) {
        const jobs = await queue.getJobs(["waiting"]);
        const events = jobs.flatMap((job) => UsageBatch.parse(job.data).events);
        const event = events.find((e) => e.request_id === requestId);
        if (event) return event;
        await new Promise((resolve) => setTimeout(resolve, 25));
      }
      throw new Error(`no usage event for ${requestId}`);
    } finally {
      await queue.close();
    }
  }

  it("runs past REQUEST_TIMEOUT_MS (1.5 s) while its chunks keep coming", async () => {
    stack.emulators.openai.enqueue({ reply: words, chunkDelayMs: 120 });
    const res = await chat("gpt-test", { stream: true });
    expect(res.status).toBe(200);
    const events = await streamed(res);
    expect(events.at(-1)).toBe("[DONE]");
    const text = events
      .map((event) => (event as { choices?: Array<{ delta?: { content?: string } }> }).choices?.[0])
      .map((choice) => choice?.delta?.content ?? "")
      .join("");
    expect(text).toBe(words);
  });

  it("ends with an upstream_timeout error event when the upstream stalls beyond STREAM_IDLE_TIMEOUT_MS, billing what it sent", async () => {
    stack.emulators.openai.enqueue({ reply: words, failAfterChunks: 4, mode: "stall" });
    const res = await fetch(`${stack.url}/v1/chat/completions`, {
      method: "POST",
      headers: {
        authorization: `Bearer ${stack.key}`,
        "content-type": "application/json",
        "x-request-id": "req-stream-stalls",
      },
      body: JSON.stringify({ model: "gpt-test", stream: true, messages: [{ role: "user", content: "go" }] }),
    });
    expect(res.status).toBe(200);
    const events = await streamed(res);
    expect(events.at(-1)).toMatchObject({
      code: "upstream_timeout",
      error: { message: expect.stringContaining("STREAM_IDLE_TIMEOUT_MS") },
    });
    // The role chunk and three content chunks came before the stall.
    expect(events).toHaveLength(5);
    expect(
      events.slice(0, 4).every((event) => typeof event === "object" && event !== null && "choices" in event),
    ).toBe(true);
    const event = await usageOf("req-stream-stalls");
    expect(event).toMatchObject({
      status: "error",
      error_code: "upstream_timeout",
      stream: true,
      estimated: true,
    });
    expect(event.tokens.output).toBeGreaterThan(0);
    expect(stack.emulators.openai.aborted).toBe(1);
  });
});

describe("circuit breaker", () => {
  it("cools a failing deployment down, skips it, then probes it back", async () => {
    stack.emulators.openai.setDefault({ status: 500 });
    // Three failures open the circuit of openai/gpt-4o (each request falls back to backup).
    for (let i = 0; i < 3; i++) expect((await chat("circuit-test")).status).toBe(200);
    const before = stack.emulators.openai.counts.requests;
    for (let i = 0; i < 3; i++) {
      const res = await chat("circuit-test");
      expect(res.headers.get("x-cloudfreedom-attempts")).toBe("1");
      expect(res.headers.get("x-cloudfreedom-provider")).toBe("backup");
    }
    expect(stack.emulators.openai.counts.requests).toBe(before);
    stack.emulators.openai.setDefault();
    // The cooldown (4 s) leaves the three skipped requests above room on a loaded machine; then it has passed.
    await new Promise((resolve) => setTimeout(resolve, 4_100));
    const probe = await chat("circuit-test");
    expect(probe.headers.get("x-cloudfreedom-provider")).toBe("openai");
    expect(stack.emulators.openai.counts.requests).toBe(before + 1);
  });
});

describe("client disconnect", () => {
  it("aborts the upstream request when the client goes away mid-stream", async () => {
    stack.emulators.anthropic.enqueue({ chunkDelayMs: 100 });
    const controller = new AbortController();
    const res = await fetch(`${stack.url}/v1/chat/completions`, {
      method: "POST",
      signal: controller.signal,
      headers: { authorization: `Bearer ${stack.key}`, "content-type": "application/json" },
      body: JSON.stringify({
        model: "claude-test",
        stream: true,
        messages: [{ role: "user", content: "a long story please with many many words in it" }],
      }),
    });
    const reader = res.body?.getReader();
    await reader?.read();
    controller.abort();
    const deadline = Date.now() + 3_000;
    while (stack.emulators.anthropic.aborted === 0 && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 50));
    expect(stack.emulators.anthropic.aborted).toBe(1);
  });
});

// Last: it leaves failures on the deployments' circuit breakers, which the tests above count on.
describe("a call no upstream answered", () => {
  it("names no upstream status, and says what was tried", async () => {
    stack.emulators.openai.enqueue({ disconnect: true }, 5);
    stack.emulators.backup.enqueue({ disconnect: true }, 5);
    const res = await chat("fallback-test");
    expect(res.status).toBe(502);
    const body = (await res.json()) as { code: string; details: Record<string, unknown> };
    expect(body.code).toBe("upstream_error");
    expect(body.details).not.toHaveProperty("upstream_status");
    expect(res.headers.get("x-cloudfreedom-attempts")).toBe("3");
    expect(res.headers.get("x-cloudfreedom-deployment")).toBe("openai/gpt-4o-mini");
  });
});
