import { AppError } from "@cloudfreedom/shared";
import { describe, expect, it } from "vitest";
import { streamFailure } from "../../src/providers/anthropic/errors.ts";
import { anthropicAdapter } from "../../src/providers/anthropic/index.ts";
import { toChatCompletion } from "../../src/providers/anthropic/response.ts";
import { ctx, fixture, jsonFixture } from "./anthropic-helpers.ts";

const NOW = 1_700_000_123_456;

describe("anthropic response mapping", () => {
  it("maps a tool_use message: text, tool calls with JSON arguments, and usage with cache reads and writes", () => {
    const { completion, usage } = toChatCompletion(jsonFixture("message-tool-use.json"), ctx, NOW);
    expect(completion).toEqual({
      id: "msg_01Aq9w938a90dw8q5nqgNzLe",
      object: "chat.completion",
      created: 1_700_000_123,
      model: "claude-sonnet-4-5-20250929",
      choices: [
        {
          index: 0,
          message: {
            role: "assistant",
            content: "I'll look up the weather in Paris and Tokyo.",
            tool_calls: [
              {
                id: "toolu_01A09q90qw90lq917835lq9",
                type: "function",
                function: { name: "get_weather", arguments: '{"location":"Paris, France","unit":"celsius"}' },
              },
              {
                id: "toolu_01BFqzBHCXNp1iWn7zUZxZCo",
                type: "function",
                function: { name: "get_weather", arguments: '{"location":"Tokyo, Japan","unit":"celsius"}' },
              },
            ],
            refusal: null,
          },
          finish_reason: "tool_calls",
          logprobs: null,
        },
      ],
      // 412 uncached + 2048 cache reads + 1024 cache writes.
      usage: {
        prompt_tokens: 3484,
        completion_tokens: 96,
        total_tokens: 3580,
        prompt_tokens_details: { cached_tokens: 2048 },
        completion_tokens_details: { reasoning_tokens: 0 },
      },
    });
    expect(usage).toEqual({
      input: 3484,
      cached_input: 2048,
      cache_write: 1024,
      cache_write_1h: 0,
      output: 96,
      reasoning: 0,
      estimated: false,
    });
  });

  it("reports the 1-hour cache writes of Anthropic's cache_creation split, and all writes as 5-minute without it", () => {
    const body = jsonFixture("message-text.json") as Record<string, unknown>;
    const usage = {
      input_tokens: 50,
      cache_read_input_tokens: 0,
      cache_creation_input_tokens: 3_000,
      cache_creation: { ephemeral_5m_input_tokens: 1_000, ephemeral_1h_input_tokens: 2_000 },
      output_tokens: 7,
    };
    expect(toChatCompletion({ ...body, usage }, ctx, NOW).usage).toEqual({
      input: 3_050,
      cached_input: 0,
      cache_write: 3_000,
      cache_write_1h: 2_000,
      output: 7,
      reasoning: 0,
      estimated: false,
    });
    const { cache_creation: _, ...withoutSplit } = usage;
    expect(toChatCompletion({ ...body, usage: withoutSplit }, ctx, NOW).usage).toMatchObject({
      input: 3_050,
      cache_write: 3_000,
      cache_write_1h: 0,
    });
    // The client sees every prompt token in prompt_tokens, as before.
    expect(toChatCompletion({ ...body, usage }, ctx, NOW).completion.usage?.prompt_tokens).toBe(3_050);
  });

  it("concatenates text blocks and reports no tool calls for a plain answer", () => {
    const { completion, usage } = toChatCompletion(jsonFixture("message-text.json"), ctx, NOW);
    expect(completion.model).toBe("claude-haiku-4-5-20251001");
    expect(completion.choices).toEqual([
      {
        index: 0,
        message: { role: "assistant", content: "Hi! My name is Claude. How can I help?", refusal: null },
        finish_reason: "stop",
        logprobs: null,
      },
    ]);
    expect(usage).toEqual({
      input: 2095,
      cached_input: 0,
      cache_write: 0,
      cache_write_1h: 0,
      output: 503,
      reasoning: 0,
      estimated: false,
    });
  });

  it("gives content null when the message holds only tool calls", () => {
    const body = {
      ...(jsonFixture("message-tool-use.json") as Record<string, unknown>),
      content: [{ type: "tool_use", id: "toolu_1", name: "now", input: {} }],
    };
    const message = toChatCompletion(body, ctx, NOW).completion.choices[0]?.message;
    expect(message?.content).toBeNull();
    expect(message?.tool_calls).toEqual([
      { id: "toolu_1", type: "function", function: { name: "now", arguments: "{}" } },
    ]);
  });

  it.each([
    ["end_turn", "stop"],
    ["stop_sequence", "stop"],
    ["pause_turn", "stop"],
    ["max_tokens", "length"],
    ["model_context_window_exceeded", "length"],
    ["tool_use", "tool_calls"],
    ["refusal", "content_filter"],
    ["a_reason_from_the_future", "stop"],
  ])("maps stop_reason %s to finish_reason %s", (stopReason, finishReason) => {
    const body = {
      ...(jsonFixture("message-text.json") as Record<string, unknown>),
      stop_reason: stopReason,
    };
    expect(toChatCompletion(body, ctx, NOW).completion.choices[0]?.finish_reason).toBe(finishReason);
  });

  it("reports no usage when the message carries none, and refuses a body that is not a message", () => {
    const body = { ...(jsonFixture("message-text.json") as Record<string, unknown>), usage: undefined };
    const { completion, usage } = anthropicAdapter.chat.response(body, ctx);
    expect(usage).toBeNull();
    expect(completion).not.toHaveProperty("usage");
    expect(() => anthropicAdapter.chat.response({ type: "error" }, ctx)).toThrow(AppError);
  });
});

describe("anthropic failure mapping", () => {
  const failure = (status: number, body: string, headers: Record<string, string> = {}) =>
    anthropicAdapter.failure(status, body, new Headers(headers));
  const error = (type: string, message: string, extra: Record<string, unknown> = {}) =>
    JSON.stringify({
      type: "error",
      error: { type, message, ...extra },
      request_id: "req_011CSHoEeqs5C35K2UUqR7Fy",
    });

  it("treats 529 overloaded_error as a retryable upstream error", () => {
    expect(failure(529, fixture("error-overloaded.json"))).toEqual({
      status: 529,
      code: "upstream_error",
      message: "Anthropic failed (529): Overloaded",
      retryable: true,
      retryAfterMs: null,
    });
  });

  it("treats 429 rate_limit_error as a retryable rate limit honouring retry-after", () => {
    expect(
      failure(429, error("rate_limit_error", "Number of requests has exceeded your rate limit"), {
        "retry-after": "7",
      }),
    ).toEqual({
      status: 429,
      code: "rate_limited",
      message: "Anthropic is rate limiting: Number of requests has exceeded your rate limit",
      retryable: true,
      retryAfterMs: 7000,
    });
  });

  it("does not retry a 429 that is the account's monthly spend limit", () => {
    const body = error("rate_limit_error", "spend limit", {
      details: { error_code: "enforced_spend_limit_reached" },
    });
    expect(failure(429, body)).toMatchObject({
      status: 429,
      code: "upstream_error",
      retryable: false,
      fallback: true,
    });
  });

  it.each([
    [400, "invalid_request_error", "invalid_request", false, false],
    [401, "authentication_error", "upstream_error", false, true],
    [402, "billing_error", "upstream_error", false, true],
    [403, "permission_error", "upstream_error", false, true],
    [404, "not_found_error", "upstream_error", false, true],
    [500, "api_error", "upstream_error", true, false],
    [504, "timeout_error", "upstream_timeout", true, false],
  ])(
    "maps %i %s to %s (retryable: %s, another deployment: %s)",
    (status, type, code, retryable, fallback) => {
      const mapped = failure(status, error(type, "details"));
      expect(mapped).toMatchObject({ status, code, retryable });
      expect(mapped.fallback === true).toBe(fallback);
    },
  );

  it("sends a 400 about the account's credit balance to another deployment, naming the operator's fix", () => {
    const body = error(
      "invalid_request_error",
      "Your credit balance is too low to access the Anthropic API. Please go to Plans & Billing to upgrade or purchase credits.",
    );
    expect(failure(400, body)).toEqual({
      status: 400,
      code: "upstream_error",
      message: "Anthropic: the provider account has no credit left; the operator must add credit",
      retryable: false,
      retryAfterMs: null,
      fallback: true,
    });
  });

  it("keeps a request's 400 final when its message only quotes the credit-balance words", () => {
    const body = error("invalid_request_error", "messages.0: text mentions 'your credit balance is too low'");
    expect(failure(400, body)).toMatchObject({ code: "invalid_request", retryable: false });
    expect(failure(400, body).fallback).toBeUndefined();
  });

  it("sends the account's errors inside a stream to another deployment too", () => {
    expect(streamFailure(error("billing_error", "credit balance too low"))).toMatchObject({
      retryable: false,
      fallback: true,
    });
    expect(streamFailure(error("invalid_request_error", "prompt is too long")).fallback).toBeUndefined();
  });

  it("names Anthropic's message for a bad request and hides credentials problems from the client", () => {
    expect(failure(400, error("invalid_request_error", "max_tokens: Field required")).message).toBe(
      "Anthropic: max_tokens: Field required",
    );
    expect(failure(401, error("authentication_error", "invalid x-api-key")).message).toBe(
      "Anthropic refused the platform's credentials; the operator must fix the provider key",
    );
  });

  it("falls back to the status when the body is not Anthropic's error JSON", () => {
    expect(failure(413, "<html><body>413 Request Entity Too Large</body></html>")).toMatchObject({
      code: "invalid_request",
      message: "Anthropic: <html><body>413 Request Entity Too Large</body></html>",
      retryable: false,
    });
    expect(failure(503, "")).toMatchObject({
      code: "upstream_error",
      message: "Anthropic failed (503): HTTP 503",
      retryable: true,
    });
  });
});
