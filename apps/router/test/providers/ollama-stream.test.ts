import { describe, expect, it } from "vitest";
import { ollamaAdapter } from "../../src/providers/ollama/index.ts";
import {
  byteSplits,
  chunk,
  contextFor,
  fixture,
  runStream,
  splits,
  usageChunk,
} from "./gemini-ollama-helpers.ts";

const ctx = contextFor("ollama", "http://localhost:11434", "qwen3:8b");
const run = (pieces: string[], includeUsage = true) => runStream(ollamaAdapter, ctx, pieces, includeUsage);

const TEXT = fixture("ollama", "stream-text.ndjson");
const TEXT_CHUNKS = [
  // The first line carries only thinking: the role chunk, no content.
  chunk("qwen3", { role: "assistant", content: "" }),
  chunk("qwen3", { content: "Grüße" }),
  chunk("qwen3", { content: " aus Zürich 🇨🇭" }),
  chunk("qwen3", { content: " — 你好！" }),
  chunk("qwen3", {}, "stop"),
  usageChunk("qwen3", { prompt: 26, completion: 14, cached: 20, reasoning: 0 }),
];

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
  usageChunk("qwen3", { prompt: 122, completion: 33, cached: 0, reasoning: 0 }),
];

const FAILING = fixture("ollama", "stream-error.ndjson");
const FAILING_CHUNKS = [
  chunk("gemma3", { role: "assistant", content: "" }),
  chunk("gemma3", { content: "Yes" }),
  chunk("gemma3", { content: ", ünïcödé 💥" }),
];

describe("ollama stream translation", () => {
  it.each([
    ["text", TEXT, TEXT_CHUNKS],
    ["tool calls", TOOLS, TOOL_CHUNKS],
  ])("translates %s chunk by chunk, identically for every split", (_name, wire, expected) => {
    expect(run([wire])).toMatchObject({ chunks: expected, error: null });
    for (const pieces of [...splits(wire), ...byteSplits(wire)]) {
      const { chunks, error } = run(pieces);
      expect(error).toBeNull();
      expect(chunks).toEqual(expected);
    }
  });

  it("leaves the usage chunk out unless asked, but reports usage and the output text", () => {
    const { chunks, transform } = run([TEXT], false);
    expect(chunks).toEqual(TEXT_CHUNKS.slice(0, -1));
    expect(transform.usage()).toEqual({
      input: 26,
      cached_input: 20,
      output: 14,
      reasoning: 0,
      estimated: false,
    });
    expect(transform.outputText()).toBe("Grüße aus Zürich 🇨🇭 — 你好！");
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
    expect(chunks).toEqual(TEXT_CHUNKS.slice(0, 4));
    expect(error?.failure.message).toBe("Ollama closed the stream before it was done");
  });

  it("reads a final line that lacks its newline", () => {
    expect(run([TEXT.trimEnd()]).chunks).toEqual(TEXT_CHUNKS);
  });
});
