import { describe, expect, it } from "vitest";
import { OpenAIPassThroughStream } from "../../src/providers/openai/stream.ts";
import { UpstreamStreamError } from "../../src/providers/types.ts";

const chunk = (delta: object, extra: object = {}) =>
  JSON.stringify({
    id: "c1",
    object: "chat.completion.chunk",
    created: 1,
    model: "gpt-4o-mini",
    choices: [{ index: 0, delta, finish_reason: null }],
    usage: null,
    ...extra,
  });
const usageChunk = JSON.stringify({
  id: "c1",
  object: "chat.completion.chunk",
  created: 1,
  model: "gpt-4o-mini",
  choices: [],
  usage: {
    prompt_tokens: 9,
    completion_tokens: 3,
    total_tokens: 12,
    prompt_tokens_details: { cached_tokens: 4 },
    completion_tokens_details: { reasoning_tokens: 1 },
  },
});
const wire = [
  chunk({ role: "assistant", content: "" }),
  chunk({ content: "Hel" }),
  chunk({ content: "lo" }),
  usageChunk,
  "[DONE]",
]
  .map((data) => `data: ${data}\n\n`)
  .join("");

const run = (parts: string[]) => {
  const stream = new OpenAIPassThroughStream("openai");
  const out = [...parts.flatMap((p) => stream.push(p)), ...stream.end()];
  return { out, stream };
};

describe("OpenAI pass-through stream", () => {
  it("passes content chunks through unchanged and reads usage from the usage chunk, which it drops", () => {
    const { out, stream } = run([wire]);
    expect(out).toEqual([
      chunk({ role: "assistant", content: "" }),
      chunk({ content: "Hel" }),
      chunk({ content: "lo" }),
    ]);
    expect(stream.usage()).toEqual({
      input: 9,
      output: 3,
      cached_input: 4,
      cache_write: 0,
      cache_write_1h: 0,
      reasoning: 1,
      estimated: false,
    });
    expect(stream.outputText()).toBe("Hello");
  });

  it("drops the usage chunk and counts it however the text is split", () => {
    const { out, stream } = run([wire.slice(0, 50), wire.slice(50, 211), wire.slice(211)]);
    expect(out).toHaveLength(3);
    expect(out.some((data) => data.includes('"usage":{'))).toBe(false);
    expect(stream.usage()?.input).toBe(9);
  });

  it("keeps the content of a chunk that carries usage, without the usage", () => {
    const last = chunk(
      { content: "!" },
      { usage: { prompt_tokens: 2, completion_tokens: 1, total_tokens: 3 } },
    );
    const { out, stream } = run([`data: ${last}\n\n`]);
    expect(out.map((data) => JSON.parse(data))).toEqual([
      {
        id: "c1",
        object: "chat.completion.chunk",
        created: 1,
        model: "gpt-4o-mini",
        choices: [{ index: 0, delta: { content: "!" }, finish_reason: null }],
      },
    ]);
    expect(stream.usage()).toMatchObject({ input: 2, output: 1 });
  });

  it("drops Azure's choice-less prompt_filter_results frame", () => {
    const azure = `data: ${JSON.stringify({ id: "", object: "", created: 0, model: "", choices: [], prompt_filter_results: [{ prompt_index: 0 }] })}\n\n${wire}`;
    expect(run([azure]).out).toHaveLength(3);
  });

  it("throws an UpstreamStreamError on an error chunk", () => {
    const stream = new OpenAIPassThroughStream("openai");
    const error = 'data: {"error":{"message":"server overloaded","type":"server_error"}}\n\n';
    // The chunk before the error in the same push is delivered; the error comes with the next call.
    expect(stream.push(`data: ${chunk({ content: "a" })}\n\n${error}`)).toHaveLength(1);
    expect(() => stream.end()).toThrow(UpstreamStreamError);
  });

  it("maps an error chunk by its type or code: server errors, rate limits and statuses are retryable", () => {
    const failureOf = (error: object) => {
      try {
        new OpenAIPassThroughStream("openai").push(`data: ${JSON.stringify({ error })}\n\n`);
      } catch (thrown) {
        if (thrown instanceof UpstreamStreamError) return thrown.failure;
      }
      return null;
    };
    expect(failureOf({ message: "Sorry about that!", type: "server_error", code: null })).toEqual({
      status: 500,
      code: "upstream_error",
      message: "openai failed (500): Sorry about that!",
      retryable: true,
      retryAfterMs: null,
    });
    expect(failureOf({ message: "Slow down", type: "requests", code: "rate_limit_exceeded" })).toMatchObject({
      status: 429,
      code: "rate_limited",
      retryable: true,
    });
    // OpenRouter and vLLM put the status in `code`.
    expect(failureOf({ message: "Provider returned error", code: 502 })).toMatchObject({ retryable: true });
    expect(failureOf({ message: "bad schema", type: "BadRequestError", code: 400 })).toMatchObject({
      code: "invalid_request",
      retryable: false,
    });
    expect(failureOf({ message: "boom" })).toEqual({
      status: 502,
      code: "upstream_error",
      message: "openai stream failed: boom",
      retryable: false,
      retryAfterMs: null,
    });
  });
  it("counts a cut stream's reasoning and tool calls as generated output, as the client received them", () => {
    const reasoning = "Let me think step by step about this. ".repeat(40);
    const stream = new OpenAIPassThroughStream("deepseek");
    const out = stream.push(
      [
        chunk({ role: "assistant", content: "" }),
        chunk({ reasoning_content: reasoning }),
        chunk({ reasoning: "OpenRouter's field. " }),
        chunk({ content: "42" }),
        chunk({ tool_calls: [{ index: 0, function: { name: "lookup", arguments: '{"q":1}' } }] }),
      ]
        .map((data) => `data: ${data}\n\n`)
        .join(""),
    );
    expect(out.some((data) => data.includes(reasoning))).toBe(true);
    // No usage chunk came (the client left): the estimate is made of this text.
    expect(stream.usage()).toBeNull();
    expect(stream.outputText()).toBe(`${reasoning}OpenRouter's field. 42lookup{"q":1}`);
  });
});
