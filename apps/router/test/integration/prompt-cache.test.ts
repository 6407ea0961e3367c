import { maxCost } from "@cloudfreedom/admission";
import { countTokens } from "@cloudfreedom/testing";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { ChatCompletionRequest } from "../../src/openai/requests.ts";
import { chatMaxUsage } from "../../src/services/proxy/budget.ts";
import { counters, waitFor } from "./budget-helpers.ts";
import { expectedCost, type RecordedCalls, recordedCalls } from "./recorded.ts";
import { type RouterStack, startRouterStack, TEST_MODELS } from "./stack.ts";

// Anthropic prompt caching through the router: breakpoints set in an OpenAI-format request reach Anthropic,
// the cache write and the later read are billed at their prices, and the hold covers the write premium.
let stack: RouterStack;
let calls: RecordedCalls;

beforeAll(async () => {
  // The hold test reads one request's own hold in Redis: no holds taken ahead.
  stack = await startRouterStack({ ADMISSION_PREFETCH_MAX: "0" });
  calls = recordedCalls(stack);
});
afterAll(async () => {
  await calls?.close();
  await stack?.stop();
});
beforeEach(async () => {
  for (const emulator of Object.values(stack.emulators)) emulator.reset();
  await calls.clear();
});

const ephemeral = { type: "ephemeral" };
const hour = { type: "ephemeral", ttl: "1h" };
const MANUAL = Array.from({ length: 300 }, (_, i) => `clause${i}`).join(" ");

async function chat(body: Record<string, unknown>, requestId: string, key = stack.key) {
  const res = await fetch(`${stack.url}/v1/chat/completions`, {
    method: "POST",
    headers: {
      authorization: `Bearer ${key}`,
      "content-type": "application/json",
      "x-request-id": requestId,
    },
    body: JSON.stringify({ model: "claude-test", ...body }),
  });
  return { res, json: (await res.json()) as Record<string, unknown> };
}

const lastAnthropicBody = () => stack.emulators.anthropic.requests.at(-1)?.body as Record<string, unknown>;

describe("prompt caching through the router (Anthropic)", () => {
  it("sends the breakpoint, bills the cache write, then bills the same prefix as a cache read", async () => {
    const messages = (question: string) => [
      { role: "system", content: MANUAL, cache_control: ephemeral },
      { role: "user", content: question },
    ];
    const first = await chat({ messages: messages("what does clause7 say?") }, "req-cache-first");
    expect(first.res.status).toBe(200);
    expect(lastAnthropicBody().system).toEqual([{ type: "text", text: MANUAL, cache_control: ephemeral }]);
    const written = await calls.recorded("req-cache-first");
    expect(written.event.tokens).toMatchObject({
      cache_write: countTokens(MANUAL),
      cache_write_1h: 0,
      cached_input: 0,
    });
    expect(written.event.cost_micros).toBe(expectedCost(written.event.tokens));
    expect(first.res.headers.get("x-cloudfreedom-cost-micros")).toBe(String(written.event.billed_micros));

    const second = await chat({ messages: messages("and clause8?") }, "req-cache-second");
    expect(second.res.status).toBe(200);
    const read = await calls.recorded("req-cache-second");
    expect(read.event.tokens).toMatchObject({ cache_write: 0, cached_input: countTokens(MANUAL) });
    expect(read.event.cost_micros).toBe(expectedCost(read.event.tokens));
    expect(second.res.headers.get("x-cloudfreedom-cost-micros")).toBe(String(read.event.billed_micros));
    // The write costs 1.25 × input, the read 0.5 ×: 600 + 150 µ apart on the same prompt.
    expect(written.event.cost_micros - read.event.cost_micros).toBeGreaterThanOrEqual(
      Math.ceil((countTokens(MANUAL) * 5) / 4) - Math.ceil(countTokens(MANUAL) / 2),
    );
  });

  it("streams with a 1-hour breakpoint on a tool and a message-wide one: both sent, the 1-hour write billed at 2×", async () => {
    const res = await fetch(`${stack.url}/v1/chat/completions`, {
      method: "POST",
      headers: {
        authorization: `Bearer ${stack.key}`,
        "content-type": "application/json",
        "x-request-id": "req-cache-stream",
      },
      body: JSON.stringify({
        model: "claude-test",
        stream: true,
        stream_options: { include_usage: true },
        tools: [
          {
            type: "function",
            function: { name: "lookup", parameters: { type: "object" } },
            cache_control: hour,
          },
        ],
        tool_choice: "none",
        messages: [
          { role: "system", content: MANUAL, cache_control: hour },
          { role: "user", content: "summarise it", cache_control: ephemeral },
        ],
      }),
    });
    expect(res.status).toBe(200);
    await res.text();
    const sent = stack.emulators.anthropic.requests.at(-1);
    expect(sent?.headers["anthropic-beta"]).toBe("extended-cache-ttl-2025-04-11");
    expect(sent?.body).toMatchObject({
      tools: [{ name: "lookup", cache_control: hour }],
      system: [{ type: "text", text: MANUAL, cache_control: hour }],
      messages: [
        { role: "user", content: [{ type: "text", text: "summarise it", cache_control: ephemeral }] },
      ],
    });
    const { event } = await calls.recorded("req-cache-stream");
    expect(event).toMatchObject({ stream: true, status: "success" });
    expect(event.tokens).toMatchObject({
      cache_write: countTokens(MANUAL) + countTokens("summarise it"),
      cache_write_1h: countTokens(MANUAL),
    });
    expect(event.cost_micros).toBe(expectedCost(event.tokens));
  });

  it("refuses a fifth breakpoint with a 400 naming it, before any provider call", async () => {
    const part = (text: string) => ({ type: "text", text, cache_control: ephemeral });
    const { res, json } = await chat(
      { messages: [{ role: "user", content: [part("a"), part("b"), part("c"), part("d"), part("e")] }] },
      "req-cache-five",
    );
    expect(res.status).toBe(400);
    expect(json).toMatchObject({
      code: "validation_failed",
      details: { field: "messages.0.content.4.cache_control" },
      error: { type: "invalid_request_error", message: expect.stringContaining("at most 4 cache_control") },
    });
    expect(stack.emulators.anthropic.counts.requests).toBe(0);
  });

  it("never sends cache_control to an OpenAI-compatible upstream", async () => {
    const { res } = await chat(
      {
        model: "gpt-test",
        tools: [{ type: "function", function: { name: "lookup" }, cache_control: ephemeral }],
        messages: [
          { role: "system", content: MANUAL, cache_control: hour },
          { role: "user", content: [{ type: "text", text: "hi", cache_control: ephemeral }] },
        ],
      },
      "req-cache-openai",
    );
    expect(res.status).toBe(200);
    const sent = stack.emulators.openai.requests.at(-1);
    expect(JSON.stringify(sent?.body)).not.toContain("cache_control");
    expect(sent?.body).toMatchObject({ messages: [{ role: "system", content: MANUAL }, { role: "user" }] });
  });
});

describe("the hold of a request with breakpoints", () => {
  const claude = () => {
    const found = TEST_MODELS.find((m) => m.model_id === "claude-test");
    if (!found) throw new Error("claude-test is in the catalog");
    return found;
  };

  /** The tenant's hold while a slow stream of `body` is open. */
  async function holdWhileStreaming(body: Record<string, unknown>): Promise<number> {
    const { key, tenantId } = await stack.newTenantKey({
      monthly_budget_micros: 100_000_000,
      markup_pct: 20,
    });
    stack.emulators.anthropic.enqueue({ chunkDelayMs: 50 });
    const client = new AbortController();
    const res = await fetch(`${stack.url}/v1/chat/completions`, {
      method: "POST",
      headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
      body: JSON.stringify({ model: "claude-test", stream: true, ...body }),
      signal: client.signal,
    });
    expect(res.status).toBe(200);
    await res.body?.getReader().read();
    const reserved = await waitFor(async () => {
      const { reserved } = (await counters(stack.redisDb.redis, tenantId)).tenant;
      return reserved > 0 ? reserved : undefined;
    }, "the hold");
    client.abort();
    return reserved;
  }

  const request = (control?: object) => ({
    max_tokens: 50,
    messages: [
      { role: "system", content: MANUAL, ...(control ? { cache_control: control } : {}) },
      { role: "user", content: "question" },
    ],
  });
  /** Prompt estimate and output allowance, as the router computes them for the hold. */
  const allowance = (body: Record<string, unknown>) =>
    chatMaxUsage(ChatCompletionRequest.parse({ model: "claude-test", ...body }), claude());

  it("prices the prompt as 1-hour writes (2 × input) when a breakpoint asks for an hour", async () => {
    const { promptTokens, outputTokens } = allowance(request(hour));
    expect(await holdWhileStreaming(request(hour))).toBe(
      Math.ceil(((promptTokens * 2 + outputTokens * 2) * 120) / 100),
    );
  });

  it("prices the prompt as 5-minute writes (1.25 × input without a catalog price) for 5-minute breakpoints", async () => {
    const { promptTokens, outputTokens } = allowance(request(ephemeral));
    expect(await holdWhileStreaming(request(ephemeral))).toBe(
      Math.ceil(((Math.ceil((promptTokens * 5) / 4) + outputTokens * 2) * 120) / 100),
    );
  });

  it("keeps the plain hold for a request without breakpoints", async () => {
    const { promptTokens, outputTokens } = allowance(request());
    const plain = maxCost({
      promptTokens,
      outputTokens,
      prices: claude().prices,
      markupPct: 20,
    });
    expect(await holdWhileStreaming(request())).toBe(plain.micros);
    expect(plain.micros).toBe(Math.ceil(((promptTokens + outputTokens * 2) * 120) / 100));
  });
});
