import { setTimeout as sleep } from "node:timers/promises";
import { priceUsage, redisKeys } from "@cloudfreedom/shared";
import { countTokens } from "gpt-tokenizer";
import OpenAI from "openai";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { type RecordedCalls, recordedCalls } from "./recorded.ts";
import { type RouterStack, startRouterStack, TEST_MODELS } from "./stack.ts";

// Every call, success or failure, leaves a complete UsageEvent on `usage` and an LLM span on `traces`.
let stack: RouterStack;
let calls: RecordedCalls;
let client: OpenAI;

beforeAll(async () => {
  stack = await startRouterStack();
  calls = recordedCalls(stack);
  client = new OpenAI({ apiKey: stack.key, baseURL: `${stack.url}/v1`, maxRetries: 0 });
});
afterAll(async () => {
  await calls?.close();
  await stack?.stop();
});
beforeEach(() => calls.clear());

const recorded = (requestId: string) => calls.recorded(requestId);

/** A chat call whose client leaves `afterMs` after the provider got the request. */
async function leaveOnceSent(routerUrl: string, requestId: string, content: string, afterMs = 0) {
  const controller = new AbortController();
  const before = stack.emulators.openai.requests.length;
  const pending = fetch(`${routerUrl}/v1/chat/completions`, {
    method: "POST",
    signal: controller.signal,
    headers: {
      authorization: `Bearer ${stack.key}`,
      "content-type": "application/json",
      "x-request-id": requestId,
    },
    body: JSON.stringify({ model: "gpt-test", messages: [{ role: "user", content }] }),
  }).catch(() => null);
  while (stack.emulators.openai.requests.length === before) await sleep(5);
  await sleep(afterMs);
  controller.abort();
  await pending;
}

const prices = TEST_MODELS[0]?.prices ?? {
  input_per_million: 0,
  cached_input_per_million: 0,
  output_per_million: 0,
};

describe("usage of a successful call", () => {
  it("records the provider's exact tokens, cached and reasoning separately, and the billed cost", async () => {
    stack.emulators.openai.enqueue({ cachedTokens: 4, reasoningTokens: 3 });
    const { data, response } = await client.chat.completions
      .create(
        { model: "gpt-test", messages: [{ role: "user", content: "count my tokens exactly please" }] },
        { headers: { "x-request-id": "req-usage-exact" } },
      )
      .withResponse();
    const { event, span } = await recorded("req-usage-exact");
    expect(event).toMatchObject({
      tenant_id: stack.tenantId,
      model: "gpt-test",
      provider: "openai",
      deployment: "openai/gpt-4o-mini",
      status: "success",
      estimated: false,
      stream: false,
      tokens: {
        input: data.usage?.prompt_tokens,
        cached_input: 4,
        output: data.usage?.completion_tokens,
        reasoning: 3,
      },
    });
    const expected = priceUsage(event.tokens, prices, 20);
    expect([event.cost_micros, event.billed_micros]).toEqual([expected.cost, expected.billed]);
    expect(response.headers.get("x-cloudfreedom-cost-micros")).toBe(String(event.billed_micros));
    const lastUsed = await stack.redisDb.redis.zscore(redisKeys.keyLastUsed, event.key_id ?? "");
    expect(Number(lastUsed)).toBe(Date.parse(event.occurred_at));
    expect(span).toMatchObject({
      name: "chat gpt-test",
      kind: "client",
      status: { code: "ok" },
      attributes: {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": "openai",
        "gen_ai.request.model": "gpt-test",
        "gen_ai.response.model": "gpt-4o-mini",
        "gen_ai.usage.input_tokens": event.tokens.input,
        "gen_ai.usage.output_tokens": event.tokens.output,
        "gen_ai.response.finish_reasons": ["stop"],
      },
    });
  });

  it("puts the cost in the final usage chunk of a stream and records the same usage", async () => {
    const { data: stream, response } = await client.chat.completions
      .create(
        {
          model: "claude-test",
          messages: [{ role: "user", content: "stream and bill me" }],
          stream: true,
          stream_options: { include_usage: true },
        },
        { headers: { "x-request-id": "req-usage-stream" } },
      )
      .withResponse();
    expect(response.headers.get("x-request-id")).toBe("req-usage-stream");
    let last: (OpenAI.CompletionUsage & { cost_micros?: number }) | null | undefined;
    for await (const chunk of stream) last = chunk.usage ?? last;
    const { event } = await recorded("req-usage-stream");
    expect(event).toMatchObject({
      stream: true,
      status: "success",
      estimated: false,
      tokens: { input: last?.prompt_tokens, output: last?.completion_tokens },
    });
    expect(last?.cost_micros).toBe(event.billed_micros);
  });

  it("joins the caller's trace from traceparent", async () => {
    const traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    await client.chat.completions.create(
      { model: "gpt-test", messages: [{ role: "user", content: "trace me" }] },
      { headers: { traceparent, "x-request-id": "req-trace" } },
    );
    const { span } = await recorded("req-trace");
    expect(span).toMatchObject({
      trace_id: "4bf92f3577b34da6a3ce929d0e0e4736",
      parent_span_id: "00f067aa0ba902b7",
    });
  });
});

describe("usage when the provider gives none or the stream breaks", () => {
  it("counts with a tokenizer and marks the usage estimated when a stream has no usage", async () => {
    stack.emulators.ollama.enqueue({ omitUsage: true });
    const stream = await client.chat.completions.create(
      {
        model: "llama-test",
        messages: [{ role: "user", content: "no usage from me" }],
        stream: true,
        stream_options: { include_usage: true },
      },
      { headers: { "x-request-id": "req-estimated" } },
    );
    let usage: (OpenAI.CompletionUsage & { estimated?: boolean }) | null | undefined;
    for await (const chunk of stream) usage = chunk.usage ?? usage;
    const { event } = await recorded("req-estimated");
    expect(event.estimated).toBe(true);
    expect(usage?.estimated).toBe(true);
    expect(event.tokens.input).toBeGreaterThan(0);
    expect(event.tokens.output).toBeGreaterThan(0);
  });

  it("records the usage produced so far when the client cuts the stream", async () => {
    stack.emulators.openai.enqueue({ chunkDelayMs: 60 });
    const controller = new AbortController();
    const res = await fetch(`${stack.url}/v1/chat/completions`, {
      method: "POST",
      signal: controller.signal,
      headers: {
        authorization: `Bearer ${stack.key}`,
        "content-type": "application/json",
        "x-request-id": "req-cut",
      },
      body: JSON.stringify({
        model: "gpt-test",
        stream: true,
        messages: [
          { role: "user", content: "one two three four five six seven eight nine ten eleven twelve" },
        ],
      }),
    });
    const reader = res.body?.getReader();
    let received = "";
    while (!received.includes("three")) {
      const { value } = (await reader?.read()) ?? {};
      received += new TextDecoder().decode(value);
    }
    controller.abort();
    const { event, span } = await recorded("req-cut");
    expect(event).toMatchObject({ status: "cancelled", error_code: "client_disconnected", estimated: true });
    expect(event.tokens.input).toBeGreaterThan(0);
    expect(event.tokens.output).toBeGreaterThan(0);
    expect(event.billed_micros).toBeGreaterThan(0);
    expect(span.status.code).toBe("error");
  });

  it("charges the prompt of a non-streamed call whose client left while the provider answered", async () => {
    stack.emulators.openai.enqueue({ delayMs: 400 });
    const prompt = "one two three four five six seven eight nine ten eleven twelve";
    await leaveOnceSent(stack.url, "req-left", prompt);
    const { event } = await recorded("req-left");
    // The provider read the prompt (and bills it); nothing of the answer is known.
    expect(event).toMatchObject({ status: "cancelled", error_code: "client_disconnected", estimated: true });
    expect(event.tokens.input).toBeGreaterThanOrEqual(countTokens(prompt));
    expect(event.tokens.output).toBe(0);
    expect(event.billed_micros).toBeGreaterThan(0);
  });

  it("charges nothing to a client that left during the backoff after a 429, when no provider had its request", async () => {
    // A router that waits out a provider's Retry-After of up to 5 s (the stack's gives up beyond 200 ms).
    const patient = await stack.startRouter({ RETRY_MAX_MS: "5000" });
    stack.emulators.openai.enqueue({ status: 429, headers: { "retry-after": "2" } });
    const before = stack.emulators.openai.requests.length;
    // The 429 is answered; the router waits out its Retry-After before the next attempt.
    await leaveOnceSent(patient.url, "req-left-backoff", "one two three", 200);
    const { event } = await recorded("req-left-backoff");
    expect(event).toMatchObject({ status: "cancelled", error_code: "client_disconnected", billed_micros: 0 });
    expect(event.tokens).toMatchObject({ input: 0, output: 0 });
    expect(stack.emulators.openai.requests.length).toBe(before + 1);
  });

  it("ends a stream that fails midway with an error event and records what was produced", async () => {
    stack.emulators.anthropic.enqueue({ failAfterChunks: 4, mode: "error-event" });
    const stream = await client.chat.completions.create(
      {
        model: "claude-test",
        messages: [{ role: "user", content: "fail half way through this long answer" }],
        stream: true,
      },
      { headers: { "x-request-id": "req-midway" } },
    );
    let text = "";
    const error = await (async () => {
      for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? "";
    })().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OpenAI.APIError);
    expect(String((error as Error).message)).toMatch(/overloaded|failed/i);
    const { event } = await recorded("req-midway");
    expect(event).toMatchObject({ status: "error", stream: true });
    expect(event.tokens.input).toBeGreaterThan(0);
    expect(text.length).toBeGreaterThan(0);
  });
});

describe("usage of a failed call", () => {
  it("records an error event with no tokens when every attempt failed", async () => {
    stack.emulators.gemini.enqueue({ status: 500 }, 3);
    const res = await fetch(`${stack.url}/v1/chat/completions`, {
      method: "POST",
      headers: { authorization: `Bearer ${stack.key}`, "x-request-id": "req-failed" },
      body: JSON.stringify({ model: "gemini-test", messages: [{ role: "user", content: "x" }] }),
    });
    expect(res.status).toBe(502);
    const { event, span } = await recorded("req-failed");
    expect(event).toMatchObject({
      status: "error",
      error_code: "upstream_error",
      cost_micros: 0,
      tokens: { input: 0, output: 0 },
    });
    expect(span.status).toEqual({ code: "error", message: "upstream_error" });
  });
});
