import { describe, expect, it } from "vitest";
import { byteSplits, CREATED, fixture, runStream, splits } from "./anthropic-helpers.ts";

function chunk(
  id: string,
  model: string,
  delta: Record<string, unknown>,
  finishReason: string | null = null,
) {
  return {
    id,
    object: "chat.completion.chunk",
    created: CREATED,
    model,
    choices: [{ index: 0, delta, finish_reason: finishReason, logprobs: null }],
  };
}

const TEXT = fixture("text-stream.sse");
const TOOLS = fixture("tool-stream.sse");
const FAILING = fixture("error-stream.sse");

const textId = "msg_01PsVdSa9FHXfYbWGfsqdQWL";
const textModel = "claude-sonnet-4-5-20250929";
const TEXT_CHUNKS = [
  chunk(textId, textModel, { role: "assistant", content: "" }),
  chunk(textId, textModel, { content: "Bonjour ! Ça va très bien" }),
  chunk(textId, textModel, { content: ", merci 😀 — et vous ?" }),
  chunk(textId, textModel, { content: '\n你好, "Claude".' }),
  chunk(textId, textModel, {}, "stop"),
];

const toolId = "msg_014p7gG3wDgGV9EUtLvnow3U";
const toolModel = "claude-opus-4-1-20250805";
const args = (index: number, fragment: string) => ({
  tool_calls: [{ index, function: { arguments: fragment } }],
});
const call = (index: number, id: string) => ({
  tool_calls: [{ index, id, type: "function", function: { name: "get_weather", arguments: "" } }],
});
const TOOL_CHUNKS = [
  chunk(toolId, toolModel, { role: "assistant", content: "" }),
  chunk(toolId, toolModel, { content: "Okay" }),
  chunk(toolId, toolModel, { content: ", checking both cities:" }),
  chunk(toolId, toolModel, call(0, "toolu_01T1x1fJ34qAmk2tNTrN7Up6")),
  chunk(toolId, toolModel, args(0, '{"location":')),
  chunk(toolId, toolModel, args(0, ' "San Francisc')),
  chunk(toolId, toolModel, args(0, 'o, CA"}')),
  chunk(toolId, toolModel, call(1, "toolu_01BFqzBHCXNp1iWn7zUZxZCo")),
  chunk(toolId, toolModel, args(1, '{"location": "Zürich"}')),
  chunk(toolId, toolModel, {}, "tool_calls"),
];

const failId = "msg_01XFDUDYJgAACzvnptvVoYEL";
const FAILING_CHUNKS = [
  chunk(failId, textModel, { role: "assistant", content: "" }),
  chunk(failId, textModel, { content: "Once upon a time" }),
  chunk(failId, textModel, { content: ", in a land far away" }),
];

describe("anthropic stream translation", () => {
  it("translates a text stream chunk by chunk, ping dropped, usage reported beside the chunks", () => {
    const run = runStream([TEXT]);
    expect(run.error).toBeNull();
    expect(run.chunks).toEqual(TEXT_CHUNKS);
    // 18 uncached + 1536 cache reads.
    expect(run.transform.usage()).toEqual({
      input: 1554,
      cached_input: 1536,
      cache_write: 0,
      cache_write_1h: 0,
      output: 27,
      reasoning: 0,
      estimated: false,
    });
    expect(run.transform.outputText()).toBe(
      'Bonjour ! Ça va très bien, merci 😀 — et vous ?\n你好, "Claude".',
    );
  });

  it("reports cache writes apart from input, with the 1-hour part of Anthropic's cache_creation split", () => {
    const event = (data: Record<string, unknown>) => `event: ${data.type}\ndata: ${JSON.stringify(data)}\n\n`;
    const startUsage = {
      input_tokens: 10,
      cache_read_input_tokens: 100,
      cache_creation_input_tokens: 1_000,
      cache_creation: { ephemeral_5m_input_tokens: 600, ephemeral_1h_input_tokens: 400 },
      output_tokens: 1,
    };
    const wire = [
      event({ type: "message_start", message: { id: "msg_cache", model: "claude-x", usage: startUsage } }),
      event({ type: "content_block_start", index: 0, content_block: { type: "text", text: "" } }),
      event({ type: "content_block_delta", index: 0, delta: { type: "text_delta", text: "Hi" } }),
      event({ type: "content_block_stop", index: 0 }),
      // message_delta repeats the input counters, as Anthropic does.
      event({
        type: "message_delta",
        delta: { stop_reason: "end_turn" },
        usage: { ...startUsage, output_tokens: 5 },
      }),
      event({ type: "message_stop" }),
    ];
    for (const pieces of splits(wire.join(""))) {
      const run = runStream(pieces);
      expect(run.error).toBeNull();
      expect(run.transform.usage()).toEqual({
        input: 1_110,
        cached_input: 100,
        cache_write: 1_000,
        cache_write_1h: 400,
        output: 5,
        reasoning: 0,
        estimated: false,
      });
    }
  });

  it("translates a tool-use stream: one OpenAI tool index per tool_use block, arguments as fragments", () => {
    const run = runStream([TOOLS]);
    expect(run.error).toBeNull();
    expect(run.chunks).toEqual(TOOL_CHUNKS);
    expect(run.transform.usage()).toEqual({
      input: 472,
      cached_input: 0,
      cache_write: 0,
      cache_write_1h: 0,
      output: 89,
      reasoning: 0,
      estimated: false,
    });
    expect(run.transform.outputText()).toBe(
      'Okay, checking both cities:{"location": "San Francisco, CA"}{"location": "Zürich"}',
    );
  });

  it("gives a tool called without input the arguments {} when its block stops (Anthropic streams no JSON)", () => {
    const event = (data: Record<string, unknown>) => `event: ${data.type}\ndata: ${JSON.stringify(data)}\n\n`;
    const toolStart = (index: number, id: string, name: string) =>
      event({ type: "content_block_start", index, content_block: { type: "tool_use", id, name, input: {} } });
    const json = (index: number, partial: string) =>
      event({
        type: "content_block_delta",
        index,
        delta: { type: "input_json_delta", partial_json: partial },
      });
    const stop = (index: number) => event({ type: "content_block_stop", index });
    const message = { id: "msg_notool", model: toolModel, usage: { input_tokens: 20, output_tokens: 1 } };
    const wire = [
      event({ type: "message_start", message }),
      toolStart(0, "toolu_time", "get_time"),
      json(0, ""),
      stop(0),
      toolStart(1, "toolu_weather", "get_weather"),
      json(1, ""),
      json(1, '{"city": "Paris"}'),
      stop(1),
      event({ type: "message_delta", delta: { stop_reason: "tool_use" }, usage: { output_tokens: 30 } }),
      event({ type: "message_stop" }),
    ].join("");
    const named = (index: number, id: string, name: string) => ({
      tool_calls: [{ index, id, type: "function", function: { name, arguments: "" } }],
    });
    const expected = [
      chunk("msg_notool", toolModel, { role: "assistant", content: "" }),
      chunk("msg_notool", toolModel, named(0, "toolu_time", "get_time")),
      chunk("msg_notool", toolModel, args(0, "{}")),
      chunk("msg_notool", toolModel, named(1, "toolu_weather", "get_weather")),
      chunk("msg_notool", toolModel, args(1, '{"city": "Paris"}')),
      chunk("msg_notool", toolModel, {}, "tool_calls"),
    ];
    const run = runStream([wire]);
    expect(run.error).toBeNull();
    expect(run.chunks).toEqual(expected);
    expect(run.transform.outputText()).toBe('{}{"city": "Paris"}');
    for (const pieces of splits(wire)) expect(runStream(pieces).chunks).toEqual(expected);
  });

  it("never emits a usage chunk (the router sends it), and still reports usage", () => {
    const run = runStream([TEXT]);
    expect(run.chunks.some((c) => Object.hasOwn(c as object, "usage"))).toBe(false);
    expect(run.transform.usage()).toMatchObject({ input: 1554, output: 27 });
  });

  it.each([
    ["text", TEXT, TEXT_CHUNKS],
    ["tool-use", TOOLS, TOOL_CHUNKS],
  ])("gives identical chunks for the %s stream however the text is split", (_, text, expected) => {
    for (const pieces of splits(text)) expect(runStream(pieces).chunks).toEqual(expected);
  });

  it("gives identical chunks when the bytes are cut inside multi-byte characters", () => {
    for (const pieces of byteSplits(TEXT)) expect(runStream(pieces).chunks).toEqual(TEXT_CHUNKS);
  });

  it("emits the chunks before a mid-stream error, then throws the mapped failure with usage so far", () => {
    const run = runStream([FAILING]);
    expect(run.chunks).toEqual(FAILING_CHUNKS);
    expect(run.error?.failure).toEqual({
      status: 529,
      code: "upstream_error",
      message: "Anthropic failed (529): Overloaded",
      retryable: true,
      retryAfterMs: null,
    });
    // Input is exact (1,200 uncached + 300 written to the cache, kept apart to be priced as writes); output
    // is message_start's count, so it is marked as an estimate for the router to redo.
    expect(run.transform.usage()).toEqual({
      input: 1500,
      cached_input: 0,
      cache_write: 300,
      cache_write_1h: 0,
      output: 1,
      reasoning: 0,
      estimated: true,
    });
    expect(run.transform.outputText()).toBe("Once upon a time, in a land far away");
    expect(() => run.transform.push("event: ping\ndata: {}\n\n")).toThrow(run.error ?? Error);
  });

  it("emits the same chunks before the error however the failing stream is split", () => {
    for (const pieces of splits(FAILING)) {
      const run = runStream(pieces);
      expect(run.chunks).toEqual(FAILING_CHUNKS);
      expect(run.error?.failure.code).toBe("upstream_error");
    }
  });

  it("maps a rate_limit_error event to a retryable rate limit", () => {
    const start = FAILING.slice(0, FAILING.indexOf("event: error"));
    const error =
      'event: error\ndata: {"type":"error","error":{"type":"rate_limit_error","message":"Slow down"}}\n\n';
    expect(runStream([start + error]).error?.failure).toMatchObject({
      status: 429,
      code: "rate_limited",
      retryable: true,
    });
  });

  it("fails a stream cut before message_delta, and completes one cut only before message_stop", () => {
    const cut = runStream([TEXT.slice(0, TEXT.indexOf("event: message_delta"))]);
    expect(cut.chunks).toEqual(TEXT_CHUNKS.slice(0, 4));
    expect(cut.error?.failure).toMatchObject({ code: "upstream_error", retryable: true });
    expect(cut.error?.message).toBe("Anthropic: the stream ended mid-message");

    const almost = runStream([TEXT.slice(0, TEXT.indexOf("event: message_stop"))]);
    expect(almost.error).toBeNull();
    expect(almost.chunks).toEqual(TEXT_CHUNKS);
  });

  it("fails an empty stream and a stream event that is not JSON", () => {
    expect(runStream([""]).error?.failure.code).toBe("upstream_error");
    expect(runStream(["event: message_start\ndata: <html>\n\n"]).error?.message).toBe(
      "Anthropic: sent a stream event that is not JSON",
    );
  });

  it("turns thinking deltas into reasoning_content, never content; skips signatures, redacted thinking and unknown events", () => {
    const extra = [
      'event: content_block_start\ndata: {"type":"content_block_start","index":5,"content_block":{"type":"thinking","thinking":"","signature":""}}\n\n',
      'event: content_block_delta\ndata: {"type":"content_block_delta","index":5,"delta":{"type":"thinking_delta","thinking":"hmm"}}\n\n',
      'event: content_block_delta\ndata: {"type":"content_block_delta","index":5,"delta":{"type":"signature_delta","signature":"EqQBCgIYAhIM"}}\n\n',
      'event: content_block_stop\ndata: {"type":"content_block_stop","index":5}\n\n',
      'event: content_block_start\ndata: {"type":"content_block_start","index":6,"content_block":{"type":"redacted_thinking","data":"EmwKAhgBEgy3va3pzix"}}\n\n',
      'event: content_block_stop\ndata: {"type":"content_block_stop","index":6}\n\n',
      'event: brand_new\ndata: {"type":"brand_new","payload":1}\n\n',
    ].join("");
    const at = TEXT.indexOf("event: content_block_start");
    const [role, ...rest] = TEXT_CHUNKS;
    const run = runStream([TEXT.slice(0, at) + extra + TEXT.slice(at)]);
    expect(run.chunks).toEqual([role, chunk(textId, textModel, { reasoning_content: "hmm" }), ...rest]);
    expect(run.transform.outputText()).toContain("hmm");
  });
});
