import { describe, expect, it } from "vitest";
import { OpenAIPassThroughStream } from "../../src/providers/openai/stream.ts";
import { chatStreamAsCompletion } from "../../src/services/proxy/completions-via-chat.ts";

const frame = (choices: unknown[]) =>
  `data: ${JSON.stringify({ id: "chatcmpl-1", object: "chat.completion.chunk", created: 1, model: "gpt-4o", choices })}\n\n`;

describe("a chat stream served as a legacy completion", () => {
  it("skips chunks without a delta (Azure's content-filter annotations) and relays the text", () => {
    const stream = chatStreamAsCompletion(new OpenAIPassThroughStream("azure"));
    const out = stream.push(
      frame([{ index: 0, delta: { content: "Hello" }, finish_reason: null }]) +
        frame([{ index: 0, finish_reason: null, content_filter_results: { hate: { filtered: false } } }]) +
        frame([{ index: 0, delta: {}, finish_reason: "stop" }]),
    );
    expect(out.map((chunk) => JSON.parse(chunk).choices)).toEqual([
      [{ index: 0, text: "Hello", finish_reason: null, logprobs: null }],
      [{ index: 0, text: "", finish_reason: "stop", logprobs: null }],
    ]);
  });
});
