import { AppError } from "@cloudfreedom/shared";
import { describe, expect, it } from "vitest";
import type { ChatCompletionRequest } from "../../src/openai/requests.ts";
import {
  ANTHROPIC_DEFAULT_MAX_TOKENS,
  anthropicAdapter,
  createAnthropicAdapter,
} from "../../src/providers/anthropic/index.ts";
import { chatRequest, ctx, fixture, upstreamBody } from "./anthropic-helpers.ts";

function validationError(fields: Partial<ChatCompletionRequest>): AppError {
  try {
    upstreamBody(fields);
  } catch (error) {
    if (error instanceof AppError) return error;
    throw error;
  }
  throw new Error("expected the request to be rejected");
}

const weatherTool = {
  type: "function" as const,
  function: {
    name: "get_weather",
    description: "Current weather for a city",
    parameters: { type: "object", properties: { location: { type: "string" } }, required: ["location"] },
  },
};

describe("anthropic request mapping", () => {
  it("posts to /v1/messages with the key, the API version and the operator's extra headers", () => {
    const request = anthropicAdapter.chat.request(chatRequest({}), ctx, false);
    expect(request.url).toBe("https://api.anthropic.com/v1/messages");
    expect(request.headers).toEqual({
      "content-type": "application/json",
      "anthropic-version": "2023-06-01",
      "x-api-key": "sk-ant-test-key",
    });

    const target = {
      ...ctx.target,
      options: { apiVersion: "2024-01-01", headers: { "anthropic-beta": "x-2025" } },
    };
    const custom = anthropicAdapter.chat.request(chatRequest({}), { ...ctx, target }, false);
    expect(custom.headers).toEqual({
      "anthropic-beta": "x-2025",
      "content-type": "application/json",
      "anthropic-version": "2024-01-01",
      "x-api-key": "sk-ant-test-key",
    });
  });

  it("moves system and developer messages to `system` and merges consecutive turns of one role", () => {
    const body = upstreamBody({
      messages: [
        { role: "system", content: "You are terse." },
        { role: "user", content: "Hello" },
        { role: "user", content: [{ type: "text", text: "Second part" }] },
        { role: "developer", content: [{ type: "text", text: "Answer in French." }] },
        { role: "assistant", content: "Bonjour." },
        { role: "assistant", content: [{ type: "text", text: "Ça va ?" }] },
        { role: "user", content: "Oui" },
      ],
    });
    expect(body).toEqual({
      model: "claude-sonnet-4-5-20250929",
      max_tokens: ANTHROPIC_DEFAULT_MAX_TOKENS,
      system: "You are terse.\n\nAnswer in French.",
      messages: [
        {
          role: "user",
          content: [
            { type: "text", text: "Hello" },
            { type: "text", text: "Second part" },
          ],
        },
        {
          role: "assistant",
          content: [
            { type: "text", text: "Bonjour." },
            { type: "text", text: "Ça va ?" },
          ],
        },
        { role: "user", content: "Oui" },
      ],
    });
  });

  it("maps image parts: data URLs to base64 sources, http(s) URLs to url sources", () => {
    const body = upstreamBody({
      messages: [
        {
          role: "user",
          content: [
            { type: "text", text: "Compare these" },
            { type: "image_url", image_url: { url: "data:image/png;base64,iVBORw0KGgo=" } },
            { type: "image_url", image_url: { url: "https://example.com/cat.jpg", detail: "high" } },
          ],
        },
      ],
    });
    expect(body.messages).toEqual([
      {
        role: "user",
        content: [
          { type: "text", text: "Compare these" },
          { type: "image", source: { type: "base64", media_type: "image/png", data: "iVBORw0KGgo=" } },
          { type: "image", source: { type: "url", url: "https://example.com/cat.jpg" } },
        ],
      },
    ]);
  });

  it.each([
    [
      "data:image/tiff;base64,AAAA",
      "image/tiff is not supported by Anthropic models (jpeg, png, gif or webp)",
    ],
    ["data:image/png,rawbytes", "must be an http(s) URL or a base64 data URL (data:image/png;base64,…)"],
    ["ftp://example.com/cat.png", "must be an http(s) URL or a base64 data URL (data:image/png;base64,…)"],
  ])("rejects the image %s naming the field", (url, reason) => {
    const error = validationError({
      messages: [{ role: "user", content: [{ type: "image_url", image_url: { url } }] }],
    });
    expect(error.code).toBe("validation_failed");
    expect(error.details).toEqual({ field: "messages[0].content[0].image_url.url" });
    expect(error.message).toBe(`messages[0].content[0].image_url.url: ${reason}`);
  });

  it("round-trips tool calls and tool results: tool_use blocks, then one user turn of tool_result blocks", () => {
    const first = anthropicAdapter.chat.response(
      JSON.parse(fixture("message-tool-use.json")),
      ctx,
    ).completion;
    const assistant = first.choices[0]?.message;
    if (!assistant?.tool_calls) throw new Error("fixture has tool calls");
    const body = upstreamBody({
      tools: [weatherTool],
      messages: [
        { role: "user", content: "Weather in Paris and Tokyo?" },
        { role: "assistant", content: assistant.content, tool_calls: assistant.tool_calls },
        { role: "tool", tool_call_id: "toolu_01A09q90qw90lq917835lq9", content: "18°C, cloudy" },
        {
          role: "tool",
          tool_call_id: "toolu_01BFqzBHCXNp1iWn7zUZxZCo",
          content: [{ type: "text", text: "24°C" }],
        },
        { role: "user", content: "Which is warmer?" },
      ],
    });
    expect(body.messages).toEqual([
      { role: "user", content: "Weather in Paris and Tokyo?" },
      {
        role: "assistant",
        content: [
          { type: "text", text: "I'll look up the weather in Paris and Tokyo." },
          {
            type: "tool_use",
            id: "toolu_01A09q90qw90lq917835lq9",
            name: "get_weather",
            input: { location: "Paris, France", unit: "celsius" },
          },
          {
            type: "tool_use",
            id: "toolu_01BFqzBHCXNp1iWn7zUZxZCo",
            name: "get_weather",
            input: { location: "Tokyo, Japan", unit: "celsius" },
          },
        ],
      },
      {
        role: "user",
        content: [
          { type: "tool_result", tool_use_id: "toolu_01A09q90qw90lq917835lq9", content: "18°C, cloudy" },
          { type: "tool_result", tool_use_id: "toolu_01BFqzBHCXNp1iWn7zUZxZCo", content: "24°C" },
          { type: "text", text: "Which is warmer?" },
        ],
      },
    ]);
    expect(body.tools).toEqual([
      {
        name: "get_weather",
        description: "Current weather for a city",
        input_schema: {
          type: "object",
          properties: { location: { type: "string" } },
          required: ["location"],
        },
      },
    ]);
  });

  it.each([
    ["{not json", "must be valid JSON"],
    ["[1, 2]", "must be a JSON object"],
  ])("rejects tool call arguments %j naming the exact field", (args, reason) => {
    const error = validationError({
      messages: [
        { role: "user", content: "Hi" },
        {
          role: "assistant",
          content: null,
          tool_calls: [
            { id: "call_ok", type: "function", function: { name: "a", arguments: "{}" } },
            { id: "call_bad", type: "function", function: { name: "b", arguments: args } },
          ],
        },
      ],
    });
    expect(error.code).toBe("validation_failed");
    expect(error.details).toEqual({ field: "messages[1].tool_calls[1].function.arguments" });
    expect(error.message).toBe(`messages[1].tool_calls[1].function.arguments: ${reason}`);
  });

  it("sends empty tool arguments as an empty input object", () => {
    const body = upstreamBody({
      messages: [
        { role: "user", content: "Hi" },
        {
          role: "assistant",
          tool_calls: [{ id: "c1", type: "function", function: { name: "now", arguments: "" } }],
        },
      ],
    });
    expect(body.messages).toEqual([
      { role: "user", content: "Hi" },
      { role: "assistant", content: [{ type: "tool_use", id: "c1", name: "now", input: {} }] },
    ]);
  });

  it.each<[string, Partial<ChatCompletionRequest>, unknown]>([
    ["no choice", {}, undefined],
    ["auto", { tool_choice: "auto" }, { type: "auto" }],
    ["required", { tool_choice: "required" }, { type: "any" }],
    ["none (tools stay declared)", { tool_choice: "none" }, { type: "none" }],
    [
      "a named function",
      { tool_choice: { type: "function", function: { name: "get_weather" } } },
      { type: "tool", name: "get_weather" },
    ],
    [
      "no choice, no parallel calls",
      { parallel_tool_calls: false },
      { type: "auto", disable_parallel_tool_use: true },
    ],
    [
      "required, no parallel calls",
      { tool_choice: "required", parallel_tool_calls: false },
      { type: "any", disable_parallel_tool_use: true },
    ],
    ["none, no parallel calls", { tool_choice: "none", parallel_tool_calls: false }, { type: "none" }],
  ])("maps tool_choice: %s", (_, fields, expected) => {
    const body = upstreamBody({ tools: [weatherTool], ...fields });
    expect(body.tool_choice).toEqual(expected);
    expect(body.tools).toHaveLength(1);
  });

  it("defaults a tool's input schema and sends no tool_choice without tools", () => {
    const bare = { type: "function" as const, function: { name: "ping" } };
    expect(upstreamBody({ tools: [bare] }).tools).toEqual([
      { name: "ping", input_schema: { type: "object" } },
    ]);
    expect(upstreamBody({ tool_choice: "required" })).not.toHaveProperty("tool_choice");
  });

  it("takes max_completion_tokens, then max_tokens, then the default, which the router can override", () => {
    expect(upstreamBody({}).max_tokens).toBe(4096);
    expect(upstreamBody({ max_tokens: 300 }).max_tokens).toBe(300);
    expect(upstreamBody({ max_tokens: 300, max_completion_tokens: 200 }).max_tokens).toBe(200);
    const adapter = createAnthropicAdapter({ defaultMaxTokens: 1024 });
    expect(JSON.parse(adapter.chat.request(chatRequest({}), ctx, false).body).max_tokens).toBe(1024);
  });

  it("clamps temperature to Anthropic's 0..1 and passes top_p, user and stop sequences", () => {
    expect(upstreamBody({ temperature: 1.7 }).temperature).toBe(1);
    expect(upstreamBody({ top_p: 0.9 }).top_p).toBe(0.9);
    expect(upstreamBody({ user: "user_42" }).metadata).toEqual({ user_id: "user_42" });
    expect(upstreamBody({ stop: "END" }).stop_sequences).toEqual(["END"]);
    expect(upstreamBody({ stop: ["END", "###"] }).stop_sequences).toEqual(["END", "###"]);
    expect(upstreamBody({ stop: null })).not.toHaveProperty("stop_sequences");
  });

  it("sends temperature alone when both temperature and top_p are set (current Claude models refuse both)", () => {
    const body = upstreamBody({ temperature: 0.3, top_p: 0.9 });
    expect(body.temperature).toBe(0.3);
    expect(body).not.toHaveProperty("top_p");
    expect(upstreamBody({ temperature: null, top_p: 0.9 })).toMatchObject({ top_p: 0.9 });
    expect(upstreamBody({ temperature: null, top_p: 0.9 })).not.toHaveProperty("temperature");
  });

  it("rejects whitespace-only stop sequences and n > 1, naming the field", () => {
    expect(validationError({ stop: ["END", "\n"] }).details).toEqual({ field: "stop[1]" });
    expect(validationError({ stop: " " }).details).toEqual({ field: "stop" });
    expect(validationError({ n: 2 }).details).toEqual({ field: "n" });
  });

  it("drops parameters Anthropic has no counterpart for and sets stream only when streaming", () => {
    const fields = { seed: 7, presence_penalty: 0.5, frequency_penalty: 0.5, metadata: { a: "b" } };
    expect(upstreamBody(fields)).toEqual({
      model: "claude-sonnet-4-5-20250929",
      max_tokens: 4096,
      messages: [{ role: "user", content: "Hi" }],
    });
    expect(upstreamBody({}, true).stream).toBe(true);
  });

  it("asks for JSON in the system prompt for json_object and json_schema response formats", () => {
    const instruction = "Respond with a single valid JSON object and nothing else: no prose, no code fences.";
    const plain = upstreamBody({ response_format: { type: "json_object" } });
    expect(plain.system).toBe(instruction);
    const schema = { type: "object", properties: { answer: { type: "number" } } };
    const withSchema = upstreamBody({
      messages: [
        { role: "system", content: "Be exact." },
        { role: "user", content: "2+2?" },
      ],
      response_format: { type: "json_schema", json_schema: { name: "result", schema } },
    });
    expect(withSchema.system).toBe(
      `Be exact.\n\n${instruction} The object is "result". It must conform to this JSON Schema:\n${JSON.stringify(schema)}`,
    );
  });
});
