import OpenAI from "openai";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { expectedCost, type RecordedCalls, recordedCalls } from "./recorded.ts";
import { type RouterStack, startRouterStack } from "./stack.ts";

// Anthropic bills prompt-cache writes at a premium over input: the usage event prices them at it.
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

describe("usage with prompt-cache writes (Anthropic)", () => {
  it("bills a completion's cache writes at the premium, 1-hour writes at 2× input, and reports them", async () => {
    stack.emulators.anthropic.enqueue({ cacheCreationTokens: 10_000, cacheCreation1hTokens: 4_000 });
    const { data, response } = await client.chat.completions
      .create(
        { model: "claude-test", messages: [{ role: "user", content: "write my prompt to the cache" }] },
        { headers: { "x-request-id": "req-cache-write" } },
      )
      .withResponse();
    const { event, span } = await recorded("req-cache-write");
    expect(event.tokens).toMatchObject({
      input: data.usage?.prompt_tokens,
      cache_write: 10_000,
      cache_write_1h: 4_000,
    });
    // The prompt counts every token the client sent, cache writes included.
    expect(data.usage?.prompt_tokens).toBeGreaterThanOrEqual(10_000);
    // 6,000 × 1.25 + 4,000 × 2 = 15,500 µ for the writes, where plain input would be 10,000.
    expect(event.cost_micros).toBe(expectedCost(event.tokens));
    expect(event.cost_micros).toBeGreaterThanOrEqual(15_500 + event.tokens.output * 2);
    expect(event.billed_micros).toBe(Math.ceil((event.cost_micros * 120) / 100));
    expect(response.headers.get("x-cloudfreedom-cost-micros")).toBe(String(event.billed_micros));
    expect(span.attributes).toMatchObject({
      "cloudfreedom.usage.cache_write_tokens": 10_000,
      "cloudfreedom.usage.cache_write_1h_tokens": 4_000,
      "cloudfreedom.cost_micros": event.cost_micros,
    });
  });

  it("bills a stream's cache writes at the premium, as 5-minute writes when Anthropic gives no split", async () => {
    stack.emulators.anthropic.enqueue({ cacheCreationTokens: 8_000 });
    const stream = await client.chat.completions.create(
      {
        model: "claude-test",
        messages: [{ role: "user", content: "stream and write the cache" }],
        stream: true,
        stream_options: { include_usage: true },
      },
      { headers: { "x-request-id": "req-cache-write-stream" } },
    );
    let last: (OpenAI.CompletionUsage & { cost_micros?: number }) | null | undefined;
    for await (const chunk of stream) last = chunk.usage ?? last;
    const { event } = await recorded("req-cache-write-stream");
    expect(event).toMatchObject({ stream: true, status: "success", estimated: false });
    expect(event.tokens).toMatchObject({ input: last?.prompt_tokens, cache_write: 8_000, cache_write_1h: 0 });
    expect(event.cost_micros).toBe(expectedCost(event.tokens));
    expect(event.cost_micros).toBeGreaterThanOrEqual(10_000);
    expect(last?.cost_micros).toBe(event.billed_micros);
  });

  it("bills the cache writes of a stream the client cut", async () => {
    stack.emulators.anthropic.enqueue({ cacheCreationTokens: 8_000, chunkDelayMs: 60 });
    const controller = new AbortController();
    const res = await fetch(`${stack.url}/v1/chat/completions`, {
      method: "POST",
      signal: controller.signal,
      headers: {
        authorization: `Bearer ${stack.key}`,
        "content-type": "application/json",
        "x-request-id": "req-cache-write-cut",
      },
      body: JSON.stringify({
        model: "claude-test",
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
    const { event } = await recorded("req-cache-write-cut");
    expect(event).toMatchObject({ status: "cancelled", error_code: "client_disconnected", estimated: true });
    expect(event.tokens.cache_write).toBe(8_000);
    expect(event.cost_micros).toBe(expectedCost(event.tokens));
    expect(event.cost_micros).toBeGreaterThanOrEqual(10_000);
  });
});
