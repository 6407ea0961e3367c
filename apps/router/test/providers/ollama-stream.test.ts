import { describe, expect, it } from "vitest";
import { ollamaAdapter } from "../../src/providers/ollama/index.ts";
import { byteSplits, chunk, contextFor, fixture, runStream, splits } from "./gemini-ollama-helpers.ts";

const ctx = contextFor("ollama", "http://localhost:11434", "qwen3:8b");
const run = (pieces: string[]) => runStream(ollamaAdapter, ctx, pieces);

const TEXT = fixture("ollama", "stream-text.ndjson");
const TEXT_CHUNKS = [
  // The first line carries only thinking: the role chunk, then the thinking as reasoning_content.
  chunk("qwen3", { role: "assistant", content: "" }),
  chunk("qwen3", { reasoning_content: "Greet in German." }),
  chunk("qwen3", { content: "Grüße" }),
  chunk("qwen3", { content: " aus Zürich 🇨🇭" }),
  chunk("qwen3", { content: " — 你好！" }),
  chunk("qwen3", {}, "stop"),
];
const TEXT_USAGE = {
  input: 26,
  cached_input: 20,
  cache_write: 0,
  cache_write_1h: 0,
  output: 14,
  reasoning: 0,
  estimated: false,
};

const TOOLS = fixture("ollama", "stream-tool-calls.ndjson");
const TOOL_CHUNKS = [
  chunk("qwen3", { role: "assistant", content: "" }),
  chunk("qwen3", { content: "Checking." }),
  chunk("qwen3", {
    tool_calls: [
      {
        index: 0,
        id: "call_01TEST_0",
        type: "function",
        function: { name: "get_weather", arguments: '{"city":"Toronto","unit":"celsius"}' },
      },
      {
        index: 1,
        id: "call_01TEST_1",
        type: "function",
        function: { name: "get_time", arguments: '{"timezone":"America/Toronto"}' },
      },
    ],
  }),
  chunk("qwen3", {}, "tool_calls"),
];
const TOOL_USAGE = {
  input: 122,
  cached_input: 0,
  cache_write: 0,
  cache_write_1h: 0,
  output: 33,
  reasoning: 0,
  estimated: false,
};

const FAILING = fixture("ollama", "stream-error.ndjson");
const FAILING_CHUNKS = [
  chunk("gemma3", { role: "assistant", content: "" }),
  chunk("gemma3", { content: "Yes" }),
  chunk("gemma3", { content: ", ünïcödé 💥" }),
];

describe("ollama stream translation", () => {
  it.each([
    ["text", TEXT, TEXT_CHUNKS, TEXT_USAGE],
    ["tool calls", TOOLS, TOOL_CHUNKS, TOOL_USAGE],
  ])("translates %s chunk by chunk, identically for every split", (_name, wire, expected, usage) => {
    const whole = run([wire]);
    expect(whole).toMatchObject({ chunks: expected, error: null });
    expect(whole.transform.usage()).toEqual(usage);
    for (const pieces of [...splits(wire), ...byteSplits(wire)]) {
      const { chunks, error } = run(pieces);
      expect(error).toBeNull();
      expect(chunks).toEqual(expected);
    }
  });

  it("never emits a usage chunk (the router sends it), but reports usage and the output text", () => {
    const { chunks, transform } = run([TEXT]);
    expect(chunks.some((c) => Object.hasOwn(c as object, "usage"))).toBe(false);
    expect(transform.usage()).toEqual(TEXT_USAGE);
    // The thinking is output too: eval_count counts it, and so does the estimate without usage.
    expect(transform.outputText()).toBe("Greet in German.Grüße aus Zürich 🇨🇭 — 你好！");
  });

  it("emits the chunks before an error line, then throws; usage is unknown until the done line", () => {
    for (const pieces of [[FAILING], ...splits(FAILING), ...byteSplits(FAILING)]) {
      const { chunks, error, transform } = run(pieces);
      expect(chunks).toEqual(FAILING_CHUNKS);
      expect(error?.failure).toEqual({
        status: 502,
        code: "upstream_error",
        message: "Ollama stream failed: an error was encountered while running the model: unexpected EOF",
        retryable: true,
        retryAfterMs: null,
      });
      expect(transform.usage()).toBeNull();
      expect(transform.outputText()).toBe("Yes, ünïcödé 💥");
    }
  });

  it("fails a stream that closes before the done line, after what it delivered", () => {
    const cut = TEXT.slice(0, TEXT.lastIndexOf('{"model"'));
    const { chunks, error } = run([cut]);
    expect(chunks).toEqual(TEXT_CHUNKS.slice(0, -1));
    expect(error?.failure.message).toBe("Ollama closed the stream before it was done");
  });

  it("reads a final line that lacks its newline", () => {
    expect(run([TEXT.trimEnd()]).chunks).toEqual(TEXT_CHUNKS);
  });
});
