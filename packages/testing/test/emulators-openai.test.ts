import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { countTokens, type EmulatorHandle, startOpenAIEmulator } from "../src/emulators/index.ts";
import { choice, list, obj, post, readAll, sseJson } from "./emulators-helpers.ts";

let openai: EmulatorHandle;
const auth = (): Record<string, string> => ({ authorization: `Bearer ${openai.apiKey}` });
const chat = (body: Record<string, unknown>, headers = auth()) =>
  post(`${openai.url}/v1/chat/completions`, { model: "gpt-4o", ...body }, headers);
const hello = [{ role: "user", content: "hello there, world!" }];
const weatherTool = {
  type: "function",
  function: {
    name: "get_weather",
    parameters: { type: "object", properties: { city: { type: "string" }, days: { type: "integer" } } },
  },
};
const usage = (prompt: number, completion: number, cached = 0, reasoning = 0) => ({
  prompt_tokens: prompt,
  completion_tokens: completion,
  total_tokens: prompt + completion,
  prompt_tokens_details: { cached_tokens: cached, audio_tokens: 0 },
  completion_tokens_details: {
    reasoning_tokens: reasoning,
    audio_tokens: 0,
    accepted_prediction_tokens: 0,
    rejected_prediction_tokens: 0,
  },
});

beforeAll(async () => {
  openai = await startOpenAIEmulator();
});
afterAll(() => openai.stop());
beforeEach(() => openai.reset());

describe("OpenAI emulator: chat completions", () => {
  it("answers a chat.completion echoing the last user text with exact usage", async () => {
    const response = await chat({ messages: [{ role: "system", content: "Be brief." }, ...hello] });
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({
      id: expect.stringMatching(/^chatcmpl-/),
      object: "chat.completion",
      created: expect.any(Number),
      model: "gpt-4o",
      choices: [
        {
          index: 0,
          message: {
            role: "assistant",
            content: "Echo: hello there, world!",
            refusal: null,
            annotations: [],
          },
          logprobs: null,
          finish_reason: "stop",
        },
      ],
      usage: usage(countTokens("Be brief.") + 5, 7),
      service_tier: "default",
      system_fingerprint: "fp_emulator",
    });
  });

  it("streams chunks with usage:null on each and a final choices:[] usage chunk when include_usage is set", async () => {
    const response = await chat({ messages: hello, stream: true, stream_options: { include_usage: true } });
    expect(response.headers.get("content-type")).toBe("text/event-stream; charset=utf-8");
    const events = sseJson(await response.text());
    expect(events.at(-1)).toBe("[DONE]");
    const chunks = events.slice(0, -1).map(obj);
    expect(chunks.every((chunk) => chunk.object === "chat.completion.chunk" && "usage" in chunk)).toBe(true);
    expect(chunks.map((chunk) => chunk.choices)).toEqual([
      [
        {
          index: 0,
          delta: { role: "assistant", content: "", refusal: null },
          logprobs: null,
          finish_reason: null,
        },
      ],
      [{ index: 0, delta: { content: "Echo: hello" }, logprobs: null, finish_reason: null }],
      [{ index: 0, delta: { content: " there, world" }, logprobs: null, finish_reason: null }],
      [{ index: 0, delta: { content: "!" }, logprobs: null, finish_reason: null }],
      [{ index: 0, delta: {}, logprobs: null, finish_reason: "stop" }],
      [],
    ]);
    expect(chunks.slice(0, -1).every((chunk) => chunk.usage === null)).toBe(true);
    expect(chunks.at(-1)?.usage).toEqual(usage(5, 7));
  });

  it("streams no usage at all without include_usage", async () => {
    const chunks = sseJson(await (await chat({ messages: hello, stream: true })).text());
    expect(chunks.slice(0, -1).every((chunk) => !("usage" in obj(chunk)))).toBe(true);
    expect(chunks.slice(0, -1).map((chunk) => obj(chunk).choices)).not.toContainEqual([]);
  });

  it("calls the first tool with arguments derived from its schema", async () => {
    const body = await (
      await chat({ messages: [{ role: "user", content: "Paris" }], tools: [weatherTool] })
    ).json();
    expect(choice(body).finish_reason).toBe("tool_calls");
    expect(choice(body).message).toEqual({
      role: "assistant",
      content: null,
      tool_calls: [
        {
          id: expect.stringMatching(/^call_/),
          type: "function",
          function: { name: "get_weather", arguments: '{"city":"Paris","days":1}' },
        },
      ],
      refusal: null,
      annotations: [],
    });
    expect(obj(body).usage).toEqual(usage(1, countTokens('{"city":"Paris","days":1}')));
  });

  it("streams a tool call as OpenAI does: id/name first with empty arguments, then argument fragments", async () => {
    const response = await chat({
      messages: [{ role: "user", content: "Paris" }],
      tools: [weatherTool],
      stream: true,
    });
    const chunks = sseJson(await response.text())
      .slice(0, -1)
      .map(obj);
    const deltas = chunks.map((chunk) => choice(chunk).delta);
    expect(deltas[0]).toEqual({
      role: "assistant",
      content: null,
      tool_calls: [
        {
          index: 0,
          id: expect.stringMatching(/^call_/),
          type: "function",
          function: { name: "get_weather", arguments: "" },
        },
      ],
      refusal: null,
    });
    const fragments = deltas.slice(1, -1).map((delta) => {
      const call = obj(list(obj(delta).tool_calls)[0]);
      expect(Object.keys(call)).toEqual(["index", "function"]);
      return obj(call.function).arguments;
    });
    expect(fragments.length).toBeGreaterThan(1);
    expect(fragments.join("")).toBe('{"city":"Paris","days":1}');
    expect(choice(chunks.at(-1)).finish_reason).toBe("tool_calls");
  });

  it("finishes a call forced by name with stop, and does not call tools when tool_choice is none", async () => {
    const forced = await (
      await chat({
        messages: hello,
        tools: [weatherTool],
        tool_choice: { type: "function", function: { name: "get_weather" } },
      })
    ).json();
    expect(choice(forced).finish_reason).toBe("stop");
    const none = await (await chat({ messages: hello, tools: [weatherTool], tool_choice: "none" })).json();
    expect(obj(choice(none).message).content).toBe("Echo: hello there, world!");
  });

  it("answers in text after a tool result", async () => {
    const messages = [
      { role: "user", content: "Paris" },
      {
        role: "assistant",
        content: null,
        tool_calls: [{ id: "call_1", type: "function", function: { name: "get_weather", arguments: "{}" } }],
      },
      { role: "tool", tool_call_id: "call_1", content: "sunny" },
    ];
    const body = await (await chat({ messages, tools: [weatherTool] })).json();
    expect(obj(choice(body).message).content).toBe("Echo: sunny");
  });

  it("honours n, json_object, max_tokens, stop, cached and reasoning tokens", async () => {
    openai.enqueue({ cachedTokens: 3, reasoningTokens: 10 });
    const body = obj(
      await (await chat({ messages: hello, n: 2, response_format: { type: "json_object" } })).json(),
    );
    const choices = list(body.choices).map(obj);
    expect(choices.map((choice) => choice.index)).toEqual([0, 1]);
    const content = String(obj(choices[0]?.message).content);
    expect(JSON.parse(content)).toEqual({ reply: "Echo: hello there, world!" });
    expect(body.usage).toEqual(usage(5, 2 * countTokens(content) + 10, 3, 10));

    const cut = await (await chat({ messages: hello, max_completion_tokens: 3 })).json();
    expect(choice(cut)).toMatchObject({
      message: { content: "Echo: hello" },
      finish_reason: "length",
    });
    const stopped = await (await chat({ messages: hello, stop: [","] })).json();
    expect(choice(stopped)).toMatchObject({
      message: { content: "Echo: hello there" },
      finish_reason: "stop",
    });
  });

  it("rejects a missing or wrong key in OpenAI's error shape", async () => {
    const missing = await chat({ messages: hello }, {});
    expect(missing.status).toBe(401);
    expect(obj(await missing.json()).error).toMatchObject({
      type: "invalid_request_error",
      param: null,
      code: null,
    });
    const wrong = await chat({ messages: hello }, { authorization: "Bearer sk-wrong-key-123" });
    expect(obj(await wrong.json()).error).toMatchObject({
      type: "invalid_request_error",
      code: "invalid_api_key",
    });
    const streamOptions = await chat({ messages: hello, stream_options: { include_usage: true } });
    expect(streamOptions.status).toBe(400);
    expect(obj(await streamOptions.json()).error).toMatchObject({ param: "stream_options" });
    const invalid = await chat({ messages: [] });
    expect(invalid.status).toBe(400);
    expect(obj(await invalid.json()).error).toMatchObject({ param: "messages", code: "empty_array" });
  });
});

describe("OpenAI emulator: injected failures", () => {
  it("returns an injected 429 with Retry-After in OpenAI's shape", async () => {
    openai.enqueue({ status: 429, headers: { "retry-after": "2" } });
    const response = await chat({ messages: hello });
    expect(response.status).toBe(429);
    expect(response.headers.get("retry-after")).toBe("2");
    expect(obj(await response.json()).error).toMatchObject({
      type: "requests",
      code: "rate_limit_exceeded",
      param: null,
    });
    expect((await chat({ messages: hello })).status).toBe(200);
  });

  it("fails a stream midway with a data: {error} frame", async () => {
    openai.enqueue({ failAfterChunks: 2 });
    const events = sseJson(await (await chat({ messages: hello, stream: true })).text());
    expect(events).toHaveLength(3);
    expect(obj(events[2]).error).toMatchObject({ type: "server_error" });
  });

  it("fails a stream before any content: a 200 whose only frame is the error", async () => {
    openai.enqueue({ failAfterChunks: 0 });
    const response = await chat({ messages: hello, stream: true });
    expect(response.status).toBe(200);
    expect(sseJson(await response.text())).toEqual([
      {
        error: {
          message: "The server had an error while processing your request. Sorry about that!",
          type: "server_error",
          param: null,
          code: null,
        },
      },
    ]);
  });

  it("cuts the connection midway in disconnect mode", async () => {
    openai.enqueue({ failAfterChunks: 2, mode: "disconnect" });
    const { text, error } = await readAll(await chat({ messages: hello, stream: true }));
    expect(error).toBeInstanceOf(Error);
    expect(sseJson(text)).toHaveLength(2);
    expect(openai.aborted).toBe(0);
  });

  it("leaves usage out with omitUsage even when include_usage is set", async () => {
    openai.enqueue({ omitUsage: true });
    const chunks = sseJson(
      await (await chat({ messages: hello, stream: true, stream_options: { include_usage: true } })).text(),
    );
    expect(chunks.slice(0, -1).map((chunk) => obj(chunk).choices)).not.toContainEqual([]);
    openai.enqueue({ omitUsage: true });
    expect(obj(await (await chat({ messages: hello })).json())).not.toHaveProperty("usage");
  });
});
