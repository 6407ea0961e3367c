import { describe, expect, it } from "vitest";
import { OpenAIPassThroughStream } from "../../src/providers/openai/stream.ts";
import { UpstreamStreamError } from "../../src/providers/types.ts";

// Python OpenAI-compatible servers (vLLM, LM Studio) serialise with ", " and ": " separators.
const spaced = (value: unknown) => JSON.stringify(value).replaceAll(":", ": ").replaceAll(",", ", ");

describe("OpenAI pass-through with spaced JSON", () => {
  it("reads usage, drops the usage chunk, and sees errors", () => {
    const stream = new OpenAIPassThroughStream("vllm");
    const content = spaced({
      id: "c",
      choices: [{ index: 0, delta: { content: "hi" }, finish_reason: null }],
    });
    const usage = spaced({
      id: "c",
      choices: [],
      usage: { prompt_tokens: 3, completion_tokens: 1, total_tokens: 4 },
    });
    expect(stream.push(`data: ${content}\n\ndata: ${usage}\n\n`)).toEqual([content]);
    expect(stream.usage()).toMatchObject({ input: 3, output: 1, estimated: false });
    expect(() => stream.push(`data: ${spaced({ error: { message: "boom" } })}\n\n`)).toThrow(
      UpstreamStreamError,
    );
  });
});
