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

const run = (includeUsage: boolean, parts: string[]) => {
  const stream = new OpenAIPassThroughStream({ includeUsage, id: "x", created: 1 }, "openai");
  const out = [...parts.flatMap((p) => stream.push(p)), ...stream.end()];
  return { out, stream };
};

describe("OpenAI pass-through stream", () => {
  it("passes chunks through unchanged and reads usage from the usage chunk", () => {
    const { out, stream } = run(true, [wire]);
    expect(out).toEqual([
      chunk({ role: "assistant", content: "" }),
      chunk({ content: "Hel" }),
      chunk({ content: "lo" }),
      usageChunk,
    ]);
    expect(stream.usage()).toEqual({ input: 9, output: 3, cached_input: 4, reasoning: 1, estimated: false });
    expect(stream.outputText()).toBe("Hello");
  });

  it("strips the usage chunk the client did not ask for but still counts it", () => {
    const { out, stream } = run(false, [wire.slice(0, 50), wire.slice(50, 211), wire.slice(211)]);
    expect(out).toHaveLength(3);
    expect(out.some((data) => data.includes('"usage":{'))).toBe(false);
    expect(stream.usage()?.input).toBe(9);
  });

  it("drops Azure's choice-less prompt_filter_results frame", () => {
    const azure = `data: ${JSON.stringify({ id: "", object: "", created: 0, model: "", choices: [], prompt_filter_results: [{ prompt_index: 0 }] })}\n\n${wire}`;
    expect(run(true, [azure]).out).toHaveLength(4);
  });

  it("throws an UpstreamStreamError on an error chunk", () => {
    const stream = new OpenAIPassThroughStream({ includeUsage: false, id: "x", created: 1 }, "openai");
    const error = 'data: {"error":{"message":"server overloaded","type":"server_error"}}\n\n';
    // The chunk before the error in the same push is delivered; the error comes with the next call.
    expect(stream.push(`data: ${chunk({ content: "a" })}\n\n${error}`)).toHaveLength(1);
    expect(() => stream.end()).toThrow(UpstreamStreamError);
  });
});
