import { describe, expect, it } from "vitest";
import { geminiAdapter } from "../../src/providers/gemini/index.ts";
import { byteSplits, chunk, contextFor, fixture, runStream, splits } from "./gemini-ollama-helpers.ts";

const ctx = contextFor(
  "gemini",
  "https://generativelanguage.googleapis.com",
  "gemini-2.5-flash",
  "AIza-test-key",
);
const MODEL = "gemini-2.5-flash";
const run = (pieces: string[]) => runStream(geminiAdapter, ctx, pieces);
const usage = (input: number, output: number, reasoning: number) => ({
  input,
  cached_input: 0,
  cache_write: 0,
  cache_write_1h: 0,
  output,
  reasoning,
  estimated: false,
});

const TEXT = fixture("gemini", "stream-text.sse");
const TEXT_CHUNKS = [
  chunk(MODEL, { role: "assistant", content: "" }),
  chunk(MODEL, { content: "Grüße aus Zürich 🇨🇭" }),
  chunk(MODEL, { content: " — 你好，世界！" }),
  chunk(MODEL, { content: " Use <b> for bold. 🎉" }),
  chunk(MODEL, {}, "stop"),
];
// Cumulative usageMetadata: the last event's counts, thoughts inside the output.
const TEXT_USAGE = usage(7, 42, 21);

const TOOLS = fixture("gemini", "stream-tool-calls.sse");
const call = (index: number, name: string, args: string) => ({
  index,
  id: `call_01TEST_${index}`,
  type: "function",
  function: { name, arguments: args },
});
const TOOL_CHUNKS = [
  chunk(MODEL, { role: "assistant", content: "" }),
  chunk(MODEL, { content: "Let me check both." }),
  chunk(MODEL, {
    tool_calls: [
      call(0, "get_weather", '{"city":"Paris"}'),
      call(1, "get_time", '{"timezone":"Europe/Paris"}'),
    ],
  }),
  chunk(MODEL, {}, "tool_calls"),
];
const TOOL_USAGE = usage(83, 131, 104);

const SAFETY = fixture("gemini", "stream-safety.sse");
const SAFETY_CHUNKS = [
  chunk(MODEL, { role: "assistant", content: "" }),
  chunk(MODEL, { content: "Step one: take the" }),
  chunk(MODEL, {}, "content_filter"),
];
const SAFETY_USAGE = usage(12, 9, 0);

const FAILING = fixture("gemini", "stream-error.sse");
const FAILING_CHUNKS = [
  chunk(MODEL, { role: "assistant", content: "" }),
  chunk(MODEL, { content: "The first half of ünïcödé" }),
  chunk(MODEL, { content: " text, then 💥" }),
];

describe("gemini stream translation", () => {
  it("uses CRLF framing in the recorded text stream, so cuts land inside CRLFs and surrogate pairs", () => {
    expect(TEXT).toContain("}\r\n\r\ndata: ");
    expect(TEXT).toMatch(/[\uD800-\uDBFF][\uDC00-\uDFFF]/);
  });

  it.each([
    ["text (CRLF)", TEXT, TEXT_CHUNKS, TEXT_USAGE],
    ["tool calls (LF)", TOOLS, TOOL_CHUNKS, TOOL_USAGE],
    ["a safety stop mid-answer", SAFETY, SAFETY_CHUNKS, SAFETY_USAGE],
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
    expect(transform.outputText()).toBe("Grüße aus Zürich 🇨🇭 — 你好，世界！ Use <b> for bold. 🎉");
  });

  it("collects tool-call arguments into the output text for estimates", () => {
    expect(run([TOOLS]).transform.outputText()).toBe(
      'Let me check both.{"city":"Paris"}{"timezone":"Europe/Paris"}',
    );
  });

  it("emits the chunks before a mid-stream error, then throws it with the usage known so far", () => {
    for (const pieces of [[FAILING], ...splits(FAILING), ...byteSplits(FAILING)]) {
      const { chunks, error, transform } = run(pieces);
      expect(chunks).toEqual(FAILING_CHUNKS);
      expect(error?.failure).toEqual({
        status: 503,
        code: "upstream_error",
        message: "Gemini failed (503): The model is overloaded. Please try again later.",
        retryable: true,
        retryAfterMs: null,
      });
      expect(transform.usage()).toEqual({
        input: 11,
        cached_input: 0,
        cache_write: 0,
        cache_write_1h: 0,
        output: 10,
        reasoning: 0,
        estimated: false,
      });
      expect(transform.outputText()).toBe("The first half of ünïcödé text, then 💥");
    }
  });

  it("fails a blocked prompt before any chunk with a clear invalid_request", () => {
    const { chunks, error } = run([fixture("gemini", "stream-prompt-blocked.sse")]);
    expect(chunks).toEqual([]);
    expect(error?.failure).toMatchObject({ status: 400, code: "invalid_request", retryable: false });
    expect(error?.failure.message).toMatch(/^Gemini blocked the prompt \(SAFETY\): /);
  });

  it("fails a stream that ends before a finish reason, after what it did deliver", () => {
    const cut = TEXT.slice(0, TEXT.lastIndexOf("data: "));
    const { chunks, error, transform } = run([cut]);
    expect(chunks).toEqual(TEXT_CHUNKS.slice(0, 3));
    expect(error?.failure).toMatchObject({ code: "upstream_error", retryable: true });
    expect(error?.failure.message).toBe("Gemini closed the stream before it finished the answer");
    expect(transform.usage()).toEqual({
      input: 7,
      cached_input: 0,
      cache_write: 0,
      cache_write_1h: 0,
      output: 34,
      reasoning: 21,
      estimated: false,
    });
  });

  it("fails on an event that is not JSON", () => {
    const { chunks, error } = run(['data: {"candidates": [\r\n\r\n']);
    expect(chunks).toEqual([]);
    expect(error?.failure.message).toMatch(/^Gemini sent a stream event that is not JSON/);
  });

  it("keeps each candidate on its own choice index", () => {
    const event = (parts: Array<{ text: string }>, finish?: string) =>
      `data: ${JSON.stringify({
        candidates: [
          { content: { parts, role: "model" }, index: 0, ...(finish ? { finishReason: finish } : {}) },
          {
            content: { parts: [{ text: parts[0]?.text.toUpperCase() ?? "" }], role: "model" },
            index: 1,
            ...(finish ? { finishReason: finish } : {}),
          },
        ],
        modelVersion: "gemini-2.5-pro",
      })}\r\n\r\n`;
    const { chunks, error } = run([event([{ text: "a" }]), event([{ text: "b" }], "STOP")]);
    expect(error).toBeNull();
    const model = "gemini-2.5-pro";
    expect(chunks).toEqual([
      chunk(model, { role: "assistant", content: "" }, null, 0),
      chunk(model, { content: "a" }, null, 0),
      chunk(model, { role: "assistant", content: "" }, null, 1),
      chunk(model, { content: "A" }, null, 1),
      chunk(model, { content: "b" }, null, 0),
      chunk(model, {}, "stop", 0),
      chunk(model, { content: "B" }, null, 1),
      chunk(model, {}, "stop", 1),
    ]);
  });
});
