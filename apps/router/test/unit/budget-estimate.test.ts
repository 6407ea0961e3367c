import type { ModelCatalogEntry } from "@cloudfreedom/shared";
import { countTokens } from "gpt-tokenizer";
import { describe, expect, it } from "vitest";
import { ChatCompletionRequest, CompletionRequest, EmbeddingRequest } from "../../src/openai/requests.ts";
import {
  chatMaxUsage,
  completionMaxUsage,
  embeddingMaxUsage,
  estimateTextTokens,
} from "../../src/services/proxy/budget.ts";

const model = { max_output_tokens: 4_096 } as const satisfies Pick<ModelCatalogEntry, "max_output_tokens">;
const asModel = model as unknown as ModelCatalogEntry;

describe("prompt estimates for the admission hold", () => {
  it("stay above what a BPE tokenizer counts for prose, code, JSON, numbers, CJK and emoji", () => {
    for (const text of [
      "The quick brown fox jumps over the lazy dog. ".repeat(50),
      "function add(a: number, b: number): number { return a + b; }\n".repeat(30),
      "1234567890 ".repeat(40),
      "Grüße aus Köln, déjà vu, naïve café. ".repeat(20),
      JSON.stringify(Array.from({ length: 50 }, (_, i) => ({ id: i, a: i * 3, ok: true }))),
      "你好世界，这是一个测试。".repeat(30),
      "😀🎉🚀 ".repeat(30),
    ]) {
      expect(estimateTextTokens(text)).toBeGreaterThanOrEqual(countTokens(text));
    }
    expect(estimateTextTokens("")).toBe(0);
  });

  it("chat: the prompt with framing per message and images, the output asked for times n, capped by the model", () => {
    const body = ChatCompletionRequest.parse({
      model: "m",
      n: 2,
      max_tokens: 100,
      messages: [
        { role: "system", content: "be brief" },
        {
          role: "user",
          content: [
            { type: "text", text: "what is this?" },
            { type: "image_url", image_url: { url: "https://x/y.png" } },
          ],
        },
      ],
    });
    const usage = chatMaxUsage(body, asModel);
    expect(usage.outputTokens).toBe(200);
    expect(usage.promptTokens).toBeGreaterThan(1_600);
    expect(chatMaxUsage({ ...body, n: 1, max_tokens: undefined }, asModel).outputTokens).toBe(4_096);
    expect(
      chatMaxUsage({ ...body, n: 1, max_tokens: 10, max_completion_tokens: 50 }, asModel).outputTokens,
    ).toBe(50);
  });

  it("chat: earlier assistant tool calls, names, refusals and a response schema count as prompt", () => {
    const args = JSON.stringify({
      rows: Array.from({ length: 2_000 }, (_, i) => ({ id: i, note: `row ${i} text` })),
    });
    const schema = {
      type: "object",
      properties: { answer: { type: "string", description: "x".repeat(3_000) } },
    };
    const body = ChatCompletionRequest.parse({
      model: "m",
      max_tokens: 16,
      response_format: { type: "json_schema", json_schema: { name: "answer", schema } },
      messages: [
        { role: "user", name: "a".repeat(40), content: "go" },
        {
          role: "assistant",
          content: null,
          refusal: "no ".repeat(500),
          tool_calls: [{ id: "call_1", type: "function", function: { name: "dump", arguments: args } }],
        },
        { role: "tool", tool_call_id: "call_1", content: "ok" },
      ],
    });
    // Every one of these goes upstream and is billed as input: the hold must cover them all.
    const billed = countTokens(args) + countTokens(JSON.stringify(schema)) + countTokens("no ".repeat(500));
    expect(chatMaxUsage(body, asModel).promptTokens).toBeGreaterThanOrEqual(billed);
  });

  it("completions: every prompt of a batch gets its own output allowance", () => {
    const body = CompletionRequest.parse({ model: "m", prompt: ["a", "b", "c"], max_tokens: 10 });
    expect(completionMaxUsage(body, asModel).outputTokens).toBe(30);
    // best_of: that many candidates per prompt are generated and billed, n of them returned.
    expect(completionMaxUsage({ ...body, n: 2, best_of: 5 }, asModel).outputTokens).toBe(150);
  });

  it("embeddings: no output; token-id inputs count exactly", () => {
    expect(
      embeddingMaxUsage(
        EmbeddingRequest.parse({
          model: "m",
          input: [
            [1, 2, 3],
            [4, 5],
          ],
        }),
      ),
    ).toEqual({ promptTokens: 5, outputTokens: 0 });
    expect(embeddingMaxUsage(EmbeddingRequest.parse({ model: "m", input: [1, 2, 3, 4] }))).toEqual({
      promptTokens: 4,
      outputTokens: 0,
    });
    expect(embeddingMaxUsage(EmbeddingRequest.parse({ model: "m", input: "abcdef" })).promptTokens).toBe(3);
  });
});
