import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { countTokens, type EmulatorHandle, startAnthropicEmulator } from "../src/emulators/index.ts";
import { list, obj, parseSse, post, readAll } from "./emulators-helpers.ts";

let anthropic: EmulatorHandle;
const headers = (): Record<string, string> => ({
  "x-api-key": anthropic.apiKey,
  "anthropic-version": "2023-06-01",
});
const messages = (body: Record<string, unknown>, h = headers()) =>
  post(`${anthropic.url}/v1/messages`, { model: "claude-sonnet-4-5", max_tokens: 100, ...body }, h);
const hello = [{ role: "user", content: "hello there, world!" }];
const weatherTool = {
  name: "get_weather",
  description: "Weather",
  input_schema: { type: "object", properties: { city: { type: "string" } }, required: ["city"] },
};
const usage = (input: number, output: number, read = 0, write = 0) => ({
  input_tokens: input,
  cache_creation_input_tokens: write,
  cache_read_input_tokens: read,
  output_tokens: output,
});

beforeAll(async () => {
  anthropic = await startAnthropicEmulator();
});
afterAll(() => anthropic.stop());
beforeEach(() => anthropic.reset());

describe("Anthropic emulator: messages", () => {
  it("answers a message with a text block, end_turn and exact usage (system counted)", async () => {
    const response = await messages({ system: [{ type: "text", text: "Be brief." }], messages: hello });
    expect(response.status).toBe(200);
    expect(response.headers.get("request-id")).toMatch(/^req_/);
    expect(await response.json()).toEqual({
      id: expect.stringMatching(/^msg_/),
      type: "message",
      role: "assistant",
      model: "claude-sonnet-4-5",
      content: [{ type: "text", text: "Echo: hello there, world!" }],
      stop_reason: "end_turn",
      stop_sequence: null,
      usage: usage(countTokens("Be brief.") + 5, 7),
    });
  });

  it("streams the exact event sequence with usage in message_start and message_delta", async () => {
    const response = await messages({ messages: hello, stream: true, system: "Be brief." });
    expect(response.headers.get("content-type")).toBe("text/event-stream; charset=utf-8");
    const events = parseSse(await response.text());
    expect(events.map((event) => event.event)).toEqual([
      "message_start",
      "content_block_start",
      "ping",
      "content_block_delta",
      "content_block_delta",
      "content_block_delta",
      "content_block_stop",
      "message_delta",
      "message_stop",
    ]);
    const data = events.map((event) => obj(JSON.parse(event.data)));
    expect(data.map((payload) => payload.type)).toEqual(events.map((event) => event.event));
    expect(obj(data[0]?.message)).toEqual({
      id: expect.stringMatching(/^msg_/),
      type: "message",
      role: "assistant",
      model: "claude-sonnet-4-5",
      content: [],
      stop_reason: null,
      stop_sequence: null,
      usage: usage(countTokens("Be brief.") + 5, 1),
    });
    expect(data[1]).toEqual({
      type: "content_block_start",
      index: 0,
      content_block: { type: "text", text: "" },
    });
    expect(data.slice(3, 6).map((payload) => obj(payload.delta))).toEqual([
      { type: "text_delta", text: "Echo: hello" },
      { type: "text_delta", text: " there, world" },
      { type: "text_delta", text: "!" },
    ]);
    expect(data[6]).toEqual({ type: "content_block_stop", index: 0 });
    expect(data[7]).toEqual({
      type: "message_delta",
      delta: { stop_reason: "end_turn", stop_sequence: null },
      usage: { output_tokens: 7 },
    });
  });

  it("answers tool_use blocks and streams them as input_json_delta", async () => {
    const body = obj(
      await (await messages({ messages: [{ role: "user", content: "Paris" }], tools: [weatherTool] })).json(),
    );
    expect(body.stop_reason).toBe("tool_use");
    expect(body.content).toEqual([
      {
        type: "tool_use",
        id: expect.stringMatching(/^toolu_/),
        name: "get_weather",
        input: { city: "Paris" },
      },
    ]);
    const stream = await messages({
      messages: [{ role: "user", content: "Paris" }],
      tools: [weatherTool],
      stream: true,
    });
    const data = parseSse(await stream.text()).map((event) => obj(JSON.parse(event.data)));
    expect(obj(data[1]?.content_block)).toEqual({
      type: "tool_use",
      id: expect.stringMatching(/^toolu_/),
      name: "get_weather",
      input: {},
    });
    const partial = data
      .filter((payload) => payload.type === "content_block_delta")
      .map((payload) => obj(payload.delta))
      .map((delta) => {
        expect(delta.type).toBe("input_json_delta");
        return String(delta.partial_json);
      });
    expect(partial.join("")).toBe('{"city":"Paris"}');
    expect(obj(data.at(-2)?.delta).stop_reason).toBe("tool_use");
  });

  it("streams a tool called without input as one empty input_json_delta, as Anthropic does", async () => {
    const clock = { name: "get_time", input_schema: { type: "object", properties: {} } };
    const request = { messages: [{ role: "user", content: "Time?" }], tools: [clock] };
    const body = obj(await (await messages(request)).json());
    expect(body.content).toEqual([
      { type: "tool_use", id: expect.stringMatching(/^toolu_/), name: "get_time", input: {} },
    ]);
    const data = parseSse(await (await messages({ ...request, stream: true })).text()).map((event) =>
      obj(JSON.parse(event.data)),
    );
    expect(data.map((payload) => payload.type)).toEqual([
      "message_start",
      "content_block_start",
      "ping",
      "content_block_delta",
      "content_block_stop",
      "message_delta",
      "message_stop",
    ]);
    expect(obj(data[1]?.content_block)).toMatchObject({ type: "tool_use", name: "get_time", input: {} });
    expect(data[3]).toEqual({
      type: "content_block_delta",
      index: 0,
      delta: { type: "input_json_delta", partial_json: "" },
    });
  });

  it("answers text after a tool_result, and accepts base64 images", async () => {
    const conversation = [
      {
        role: "user",
        content: [
          { type: "image", source: { type: "base64", media_type: "image/png", data: "iVBORw0KGgo=" } },
          { type: "text", text: "Paris" },
        ],
      },
      {
        role: "assistant",
        content: [{ type: "tool_use", id: "toolu_1", name: "get_weather", input: { city: "Paris" } }],
      },
      { role: "user", content: [{ type: "tool_result", tool_use_id: "toolu_1", content: "sunny" }] },
    ];
    const body = obj(await (await messages({ messages: conversation, tools: [weatherTool] })).json());
    expect(body.content).toEqual([{ type: "text", text: "Echo: sunny" }]);
    expect(obj(body.usage).input_tokens).toBe(countTokens("Paris") + countTokens("sunny"));
  });

  it("stops on max_tokens and stop sequences, and reports cache and thinking tokens", async () => {
    const cut = obj(await (await messages({ messages: hello, max_tokens: 3 })).json());
    expect(cut).toMatchObject({
      content: [{ text: "Echo: hello" }],
      stop_reason: "max_tokens",
      stop_sequence: null,
    });
    const stopped = obj(await (await messages({ messages: hello, stop_sequences: ["world"] })).json());
    expect(stopped).toMatchObject({
      content: [{ text: "Echo: hello there, " }],
      stop_reason: "stop_sequence",
      stop_sequence: "world",
    });
    anthropic.enqueue({ cachedTokens: 2, cacheCreationTokens: 1, reasoningTokens: 4 });
    expect(obj(await (await messages({ messages: hello })).json()).usage).toEqual(usage(2, 11, 2, 1));
  });
});

describe("Anthropic emulator: validation and auth", () => {
  it.each([
    [{ max_tokens: undefined, messages: hello }, "max_tokens: Field required"],
    [
      { messages: [...hello, ...hello] },
      'messages: roles must alternate between "user" and "assistant", but found multiple "user" roles in a row',
    ],
    [
      { messages: [{ role: "system", content: "x" }] },
      "messages.0.role: Input should be 'user' or 'assistant'",
    ],
    [{ messages: hello, system: 42 }, "system: Input should be a valid list"],
    [
      { messages: hello, temperature: 0.5, top_p: 0.9 },
      "`temperature` and `top_p` cannot both be specified for this model. Please use only one.",
    ],
    [
      {
        messages: [
          {
            role: "user",
            content: [{ type: "image", source: { type: "base64", media_type: "image/tiff", data: "x" } }],
          },
        ],
      },
      "messages.0.content.0.image.source.base64.media_type: Input should be 'image/jpeg', 'image/png', 'image/gif' or 'image/webp'",
    ],
  ])("rejects a malformed body with invalid_request_error (%#)", async (body, message) => {
    const response = await messages(body);
    expect(response.status).toBe(400);
    expect(await response.json()).toEqual({
      type: "error",
      error: { type: "invalid_request_error", message },
      request_id: expect.stringMatching(/^req_/),
    });
  });

  it("requires x-api-key and anthropic-version", async () => {
    const noKey = await messages({ messages: hello }, { "anthropic-version": "2023-06-01" });
    expect(noKey.status).toBe(401);
    expect(obj(await noKey.json()).error).toEqual({
      type: "authentication_error",
      message: "x-api-key header is required",
    });
    const badKey = await messages(
      { messages: hello },
      { "x-api-key": "nope", "anthropic-version": "2023-06-01" },
    );
    expect(obj(await badKey.json()).error).toEqual({
      type: "authentication_error",
      message: "invalid x-api-key",
    });
    const noVersion = await messages({ messages: hello }, { "x-api-key": anthropic.apiKey });
    expect(noVersion.status).toBe(400);
    expect(obj(await noVersion.json()).error).toEqual({
      type: "invalid_request_error",
      message: "anthropic-version: header is required",
    });
  });
});

describe("Anthropic emulator: injected failures", () => {
  it("returns an injected 529 overloaded_error with retry-after", async () => {
    anthropic.enqueue({ status: 529, headers: { "retry-after": "1" } });
    const response = await messages({ messages: hello });
    expect(response.status).toBe(529);
    expect(response.headers.get("retry-after")).toBe("1");
    expect(obj(await response.json())).toMatchObject({
      type: "error",
      error: { type: "overloaded_error", message: "Overloaded" },
    });
  });

  it("sends an error event midway in error-event mode", async () => {
    anthropic.enqueue({ failAfterChunks: 4, mode: "error-event" });
    const events = parseSse(await (await messages({ messages: hello, stream: true })).text());
    expect(events.map((event) => event.event)).toEqual([
      "message_start",
      "content_block_start",
      "ping",
      "content_block_delta",
      "error",
    ]);
    expect(JSON.parse(events[4]?.data ?? "")).toEqual({
      type: "error",
      error: { type: "overloaded_error", message: "Overloaded" },
    });
  });

  it("sends the error event first, right after the 200, with failAfterChunks 0", async () => {
    anthropic.enqueue({ failAfterChunks: 0 });
    const response = await messages({ messages: hello, stream: true });
    expect(response.status).toBe(200);
    expect(parseSse(await response.text())).toEqual([
      {
        event: "error",
        data: JSON.stringify({ type: "error", error: { type: "overloaded_error", message: "Overloaded" } }),
      },
    ]);
  });

  it("disconnects midway, and streams without usage under omitUsage", async () => {
    anthropic.enqueue({ failAfterChunks: 1, mode: "disconnect" });
    const cut = await readAll(await messages({ messages: hello, stream: true }));
    expect(cut.error).toBeInstanceOf(Error);
    expect(parseSse(cut.text).map((event) => event.event)).toEqual(["message_start"]);
    anthropic.enqueue({ omitUsage: true });
    const data = parseSse(await (await messages({ messages: hello, stream: true })).text()).map((event) =>
      obj(JSON.parse(event.data)),
    );
    expect(obj(data[0]?.message)).not.toHaveProperty("usage");
    expect(data.find((payload) => payload.type === "message_delta")).not.toHaveProperty("usage");
    expect(list(anthropic.requests).length).toBe(2);
  });
});

describe("Anthropic emulator: extended thinking", () => {
  const thought = "Let me think about this request: hello there, world!";
  const think = (budget = 1024) => ({ type: "enabled", budget_tokens: budget });

  it("answers a thinking block with its signature before the text, thinking counted in output_tokens", async () => {
    anthropic.enqueue({ redactedThinking: true });
    const response = await messages({ messages: hello, max_tokens: 2000, thinking: think() });
    expect(response.status).toBe(200);
    const body = obj(await response.json());
    const content = list(body.content).map(obj);
    expect(content.map((block) => block.type)).toEqual(["thinking", "redacted_thinking", "text"]);
    expect(content[0]).toEqual({ type: "thinking", thinking: thought, signature: expect.any(String) });
    expect(content[2]).toEqual({ type: "text", text: "Echo: hello there, world!" });
    expect(obj(body.usage).output_tokens).toBe(countTokens(thought) + 7);
  });

  it("streams thinking_delta and signature_delta in a thinking block, then the text at the next index", async () => {
    const response = await messages({ messages: hello, max_tokens: 2000, thinking: think(), stream: true });
    const events = parseSse(await response.text()).map((event) => obj(JSON.parse(event.data)));
    const starts = events.filter((e) => e.type === "content_block_start");
    expect(starts.map((e) => [e.index, obj(e.content_block).type])).toEqual([
      [0, "thinking"],
      [1, "text"],
    ]);
    expect(events[2]?.type).toBe("ping");
    const deltas = events.filter((e) => e.type === "content_block_delta").map((e) => obj(e.delta));
    const thinking = deltas.filter((d) => d.type === "thinking_delta").map((d) => d.thinking);
    expect(thinking.join("")).toBe(thought);
    expect(deltas.filter((d) => d.type === "signature_delta")).toHaveLength(1);
    const final = events.find((e) => e.type === "message_delta");
    expect(obj(final?.usage).output_tokens).toBe(countTokens(thought) + 7);
  });

  it.each([
    ["a budget under 1024", { thinking: think(1000) }, "greater than or equal to 1024"],
    [
      "a budget not below max_tokens",
      { thinking: think(2000), max_tokens: 2000 },
      "`max_tokens` must be greater",
    ],
    ["temperature other than 1", { thinking: think(), max_tokens: 2000, temperature: 0.5 }, "`temperature`"],
    ["top_p under 0.95", { thinking: think(), max_tokens: 2000, top_p: 0.5 }, "`top_p`"],
    [
      "forced tool use",
      { thinking: think(), max_tokens: 2000, tools: [weatherTool], tool_choice: { type: "any" } },
      "tool_choice forces tool use",
    ],
    [
      "tool results answering an assistant turn without its thinking",
      {
        thinking: think(),
        max_tokens: 2000,
        tools: [weatherTool],
        messages: [
          ...hello,
          {
            role: "assistant",
            content: [{ type: "tool_use", id: "toolu_1", name: "get_weather", input: {} }],
          },
          { role: "user", content: [{ type: "tool_result", tool_use_id: "toolu_1", content: "sunny" }] },
        ],
      },
      "must start with a thinking block",
    ],
  ])("refuses %s with a 400, as Anthropic does", async (_, body, message) => {
    const response = await messages({ messages: hello, ...body });
    expect(response.status).toBe(400);
    const error = obj(obj(await response.json()).error);
    expect(error.type).toBe("invalid_request_error");
    expect(error.message).toContain(message);
  });
});
