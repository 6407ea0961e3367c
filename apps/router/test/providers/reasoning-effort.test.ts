import { AppError } from "@cloudfreedom/shared";
import { describe, expect, it } from "vitest";
import type { ChatCompletionRequest } from "../../src/openai/requests.ts";
import { anthropicAdapter, createAnthropicAdapter } from "../../src/providers/anthropic/index.ts";
import { geminiAdapter } from "../../src/providers/gemini/index.ts";
import { thinkingConfig } from "../../src/providers/gemini/request.ts";
import { ollamaAdapter } from "../../src/providers/ollama/index.ts";
import { takesThinkLevels, thinkFor } from "../../src/providers/ollama/request.ts";
import * as anthropic from "./anthropic-helpers.ts";
import * as gemini from "./gemini-ollama-helpers.ts";

// reasoning_effort → Anthropic extended thinking, Gemini thinking and Ollama think, and the thinking in their
// answers.

function anthropicBody(
  fields: Partial<ChatCompletionRequest>,
  maxOutputTokens?: number,
): Record<string, unknown> {
  const ctx = { ...anthropic.ctx, maxOutputTokens, reasoning: true };
  return JSON.parse(anthropicAdapter.chat.request(anthropic.chatRequest(fields), ctx, false).body);
}

function refusal(fields: Partial<ChatCompletionRequest>, maxOutputTokens?: number): AppError {
  try {
    anthropicBody(fields, maxOutputTokens);
  } catch (error) {
    if (error instanceof AppError) return error;
    throw error;
  }
  throw new Error("expected the request to be refused");
}

const weatherTool = {
  type: "function" as const,
  function: { name: "get_weather", parameters: { type: "object", properties: { city: { type: "string" } } } },
};

describe("reasoning_effort → Anthropic extended thinking", () => {
  it("sends a budget per effort and raises the default max_tokens to the budget plus the default", () => {
    const budgets = { minimal: 1024, low: 2048, medium: 8192, high: 16_384, xhigh: 32_768 } as const;
    for (const [effort, budget] of Object.entries(budgets)) {
      const body = anthropicBody({ reasoning_effort: effort as keyof typeof budgets }, 64_000);
      expect(body.thinking).toEqual({ type: "enabled", budget_tokens: budget });
      expect(body.max_tokens).toBe(budget + 4096);
    }
  });

  it("sends no thinking for none or no effort, and leaves max_tokens alone", () => {
    for (const fields of [{ reasoning_effort: "none" as const }, {}, { reasoning_effort: null }]) {
      const body = anthropicBody(fields, 64_000);
      expect(body.thinking).toBeUndefined();
      expect(body.max_tokens).toBe(4096);
    }
  });

  it("never raises max_tokens above the model's max_output_tokens, and fits the budget inside it", () => {
    expect(anthropicBody({ reasoning_effort: "xhigh" }, 20_000)).toMatchObject({
      max_tokens: 20_000,
      thinking: { type: "enabled", budget_tokens: 16_000 },
    });
    // A router default above the cap is lowered to it (admission held the output at the cap); the answer
    // keeps 20% of it.
    const adapter = createAnthropicAdapter({ defaultMaxTokens: 8000 });
    const ctx = { ...anthropic.ctx, maxOutputTokens: 4000, reasoning: true };
    const request = anthropic.chatRequest({ reasoning_effort: "high" });
    const body = JSON.parse(adapter.chat.request(request, ctx, false).body);
    expect(body).toMatchObject({ max_tokens: 4000, thinking: { budget_tokens: 3200 } });
    // A client's limit above the cap is lowered to it too, thinking or not.
    expect(anthropicBody({ reasoning_effort: "low", max_tokens: 50_000 }, 20_000).max_tokens).toBe(20_000);
    expect(anthropicBody({ max_tokens: 50_000 }, 20_000).max_tokens).toBe(20_000);
    // A cap that leaves no room for the minimum budget: no thinking, and no refusal either.
    expect(anthropicBody({ reasoning_effort: "high" }, 1000)).toMatchObject({ max_tokens: 1000 });
    expect(anthropicBody({ reasoning_effort: "high" }, 1000).thinking).toBeUndefined();
  });

  it("thinks only on models the catalog marks reasoning, and never after a prefilled assistant turn", () => {
    const plain = { ...anthropic.ctx, maxOutputTokens: 8192 };
    const request = anthropic.chatRequest({ reasoning_effort: "high" });
    const body = JSON.parse(anthropicAdapter.chat.request(request, plain, false).body);
    expect(body.thinking).toBeUndefined();
    expect(body.max_tokens).toBe(4096);
    const prefilled = anthropicBody({
      reasoning_effort: "high",
      messages: [
        { role: "user", content: "Give me JSON" },
        { role: "assistant", content: "{" },
      ],
    });
    expect(prefilled.thinking).toBeUndefined();
  });

  it("keeps the client's max_tokens and leaves the answer 20% of it (or the default), never below 1024", () => {
    expect(anthropicBody({ reasoning_effort: "high", max_tokens: 10_000 })).toMatchObject({
      max_tokens: 10_000,
      thinking: { budget_tokens: 8000 },
    });
    expect(anthropicBody({ reasoning_effort: "low", max_completion_tokens: 50_000 })).toMatchObject({
      max_tokens: 50_000,
      thinking: { budget_tokens: 2048 },
    });
    expect(anthropicBody({ reasoning_effort: "medium", max_tokens: 1100 })).toMatchObject({
      max_tokens: 1100,
      thinking: { budget_tokens: 1024 },
    });
  });

  it("refuses a max_tokens that leaves no room for the 1024-token minimum, naming both parameters", () => {
    const error = refusal({ reasoning_effort: "low", max_tokens: 1024 });
    expect(error.code).toBe("validation_failed");
    expect(error.details).toEqual({ field: "max_tokens" });
    expect(error.message).toMatch(/^max_tokens: reasoning_effort "low" needs max_tokens above 1024/);
    expect(refusal({ reasoning_effort: "high", max_completion_tokens: 500 }).details).toEqual({
      field: "max_completion_tokens",
    });
    // "none" asks for no thinking, so any limit will do.
    expect(anthropicBody({ reasoning_effort: "none", max_tokens: 500 }).max_tokens).toBe(500);
  });

  it("drops temperature and a top_p below 0.95 with thinking on, as Anthropic accepts neither", () => {
    const body = anthropicBody({ reasoning_effort: "medium", temperature: 0.2, top_p: 0.5 });
    expect(body.temperature).toBeUndefined();
    expect(body.top_p).toBeUndefined();
    expect(anthropicBody({ reasoning_effort: "medium", temperature: 0.7, top_p: 0.97 }).top_p).toBe(0.97);
    // Without thinking the usual mapping applies.
    expect(anthropicBody({ reasoning_effort: "none", temperature: 0.2 }).temperature).toBe(0.2);
  });

  it("goes without thinking when the tool choice forces a tool, which Anthropic refuses beside thinking", () => {
    const forced = anthropicBody({ reasoning_effort: "high", tools: [weatherTool], tool_choice: "required" });
    expect(forced.thinking).toBeUndefined();
    expect(forced.max_tokens).toBe(4096);
    const named = { type: "function" as const, function: { name: "get_weather" } };
    expect(
      anthropicBody({ reasoning_effort: "high", tools: [weatherTool], tool_choice: named }).thinking,
    ).toBeUndefined();
    expect(
      anthropicBody({ reasoning_effort: "high", tools: [weatherTool], tool_choice: "auto" }).thinking,
    ).toEqual({ type: "enabled", budget_tokens: 16_384 });
  });

  it("goes without thinking when the conversation ends with tool results (their turn's thinking is lost)", () => {
    const messages: ChatCompletionRequest["messages"] = [
      { role: "user", content: "Weather in Paris?" },
      {
        role: "assistant",
        content: null,
        tool_calls: [
          {
            id: "call_1",
            type: "function",
            function: { name: "get_weather", arguments: '{"city":"Paris"}' },
          },
        ],
      },
      { role: "tool", tool_call_id: "call_1", content: "sunny" },
    ];
    expect(
      anthropicBody({ reasoning_effort: "high", tools: [weatherTool], messages }).thinking,
    ).toBeUndefined();
    const next = [
      ...messages,
      { role: "assistant" as const, content: "Sunny." },
      { role: "user" as const, content: "And Rome?" },
    ];
    expect(
      anthropicBody({ reasoning_effort: "high", tools: [weatherTool], messages: next }).thinking,
    ).toEqual({
      type: "enabled",
      budget_tokens: 16_384,
    });
  });
});

describe("Anthropic thinking in answers", () => {
  it("gives thinking blocks as reasoning_content, never content, and leaves redacted thinking out", () => {
    const { completion, usage } = anthropicAdapter.chat.response(
      anthropic.jsonFixture("message-thinking.json"),
      anthropic.ctx,
    );
    expect(completion.choices[0]?.message).toEqual({
      role: "assistant",
      content: "27 × 453 = 12,231.",
      reasoning_content: "27 * 453: 27 * 400 = 10800, 27 * 53 = 1431, total 12231.",
      refusal: null,
    });
    // Anthropic's output_tokens include the thinking: all of it is billed as output.
    expect(usage).toMatchObject({ input: 46, output: 182 });
  });

  it("streams thinking deltas as reasoning_content in any split, and the final output count", () => {
    const text = anthropic.fixture("thinking-stream.sse");
    const id = "msg_01DfGoUwMtftE8VM22axQ2Jc";
    const model = "claude-sonnet-4-5-20250929";
    const delta = (d: Record<string, unknown>, finish: string | null = null) => ({
      id,
      object: "chat.completion.chunk",
      created: anthropic.CREATED,
      model,
      choices: [{ index: 0, delta: d, finish_reason: finish, logprobs: null }],
    });
    const expected = [
      delta({ role: "assistant", content: "" }),
      delta({ reasoning_content: "The user simply said hello" }),
      delta({ reasoning_content: "; a friendly greeting back will do." }),
      delta({ content: "Hello! How can I" }),
      delta({ content: " help you today?" }),
      delta({}, "stop"),
    ];
    for (const pieces of [[text], ...anthropic.splits(text).slice(0, 200)]) {
      const run = anthropic.runStream(pieces);
      expect(run.error).toBeNull();
      const merged = mergeDeltas(run.chunks);
      expect(merged).toEqual(mergeDeltas(expected));
    }
    const run = anthropic.runStream([text]);
    expect(run.chunks).toEqual(expected);
    expect(run.transform.usage()).toMatchObject({ input: 778, output: 84, estimated: false });
  });
});

/** The reasoning and the content of a chunk list, whatever the split. */
function mergeDeltas(chunks: unknown[]): { reasoning: string; content: string } {
  let reasoning = "";
  let content = "";
  for (const chunk of chunks as Array<{ choices: Array<{ delta: Record<string, string> }> }>) {
    const d = chunk.choices[0]?.delta ?? {};
    reasoning += d.reasoning_content ?? "";
    content += d.content ?? "";
  }
  return { reasoning, content };
}

describe("reasoning_effort → Gemini thinkingConfig", () => {
  const body = (upstreamModel: string, fields: Partial<ChatCompletionRequest>) => {
    const ctx = gemini.contextFor("gemini", "https://generativelanguage.googleapis.com", upstreamModel, "k");
    const request = geminiAdapter.chat.request(
      gemini.chatRequest(fields),
      { ...ctx, reasoning: true, ...extra },
      false,
    );
    return JSON.parse(request.body) as { generationConfig?: Record<string, unknown> };
  };
  let extra: { maxOutputTokens?: number; reasoning?: boolean } = {};

  it("gives Gemini 2.5 a thinking budget per effort, 0 for none, and asks for thought summaries", () => {
    const budgets = { minimal: 512, low: 1024, medium: 8192, high: 16_384, xhigh: 24_576 } as const;
    for (const [effort, budget] of Object.entries(budgets)) {
      expect(
        body("gemini-2.5-flash", { reasoning_effort: effort as keyof typeof budgets }).generationConfig,
      ).toEqual({ thinkingConfig: { thinkingBudget: budget, includeThoughts: true } });
    }
    expect(body("models/gemini-2.5-flash-lite", { reasoning_effort: "none" }).generationConfig).toEqual({
      thinkingConfig: { thinkingBudget: 0 },
    });
  });

  it("keeps 2.5 Pro thinking at its minimum for none, as it cannot stop thinking", () => {
    expect(thinkingConfig("none", "gemini-2.5-pro")).toEqual({ thinkingBudget: 128 });
    expect(thinkingConfig("low", "gemini-2.5-pro")).toEqual({ thinkingBudget: 1024, includeThoughts: true });
  });

  it("gives Gemini 3 a thinking level, low or high, which every Gemini 3 model accepts", () => {
    expect(thinkingConfig("none", "gemini-3-pro-preview")).toEqual({ thinkingLevel: "low" });
    expect(thinkingConfig("minimal", "gemini-3-flash-preview")).toEqual({
      thinkingLevel: "low",
      includeThoughts: true,
    });
    expect(thinkingConfig("medium", "models/gemini-3-pro-preview")).toEqual({
      thinkingLevel: "high",
      includeThoughts: true,
    });
    expect(thinkingConfig("xhigh", "gemini-3.1-pro")).toMatchObject({ thinkingLevel: "high" });
  });

  it("sends no thinking config to models that do not think, or without an effort", () => {
    expect(body("gemini-2.0-flash", { reasoning_effort: "high" }).generationConfig).toBeUndefined();
    expect(body("gemini-1.5-pro", { reasoning_effort: "high" }).generationConfig).toBeUndefined();
    expect(body("gemini-2.5-flash", {}).generationConfig).toBeUndefined();
    extra = { reasoning: false };
    try {
      expect(body("gemini-2.5-flash", { reasoning_effort: "high" }).generationConfig).toBeUndefined();
    } finally {
      extra = {};
    }
  });

  it("bounds thinking by maxOutputTokens (the client's limit, else the cap), leaving the answer a share", () => {
    extra = { maxOutputTokens: 8192 };
    try {
      expect(body("gemini-2.5-flash", { reasoning_effort: "high" }).generationConfig).toEqual({
        maxOutputTokens: 8192,
        thinkingConfig: { thinkingBudget: 6553, includeThoughts: true },
      });
      expect(
        body("gemini-2.5-flash", { reasoning_effort: "high", max_tokens: 2000 }).generationConfig,
      ).toEqual({
        maxOutputTokens: 2000,
        thinkingConfig: { thinkingBudget: 1600, includeThoughts: true },
      });
      // A client's limit above the cap is lowered to it; Gemini 3's level has no budget to fit.
      expect(
        body("gemini-3-pro-preview", { reasoning_effort: "high", max_tokens: 50_000 }).generationConfig,
      ).toEqual({
        maxOutputTokens: 8192,
        thinkingConfig: { thinkingLevel: "high", includeThoughts: true },
      });
    } finally {
      extra = {};
    }
  });
});

describe("Gemini thoughts in answers", () => {
  it("streams thought parts as reasoning_content and bills thoughtsTokenCount as output", () => {
    const ctx = gemini.contextFor("gemini", "https://generativelanguage.googleapis.com", "gemini-2.5-flash");
    const events = [
      {
        candidates: [
          { content: { parts: [{ text: "Greeting, in French.", thought: true }], role: "model" }, index: 0 },
        ],
        usageMetadata: { promptTokenCount: 9, thoughtsTokenCount: 40, totalTokenCount: 49 },
      },
      {
        candidates: [
          { content: { parts: [{ text: "Bonjour !" }], role: "model" }, finishReason: "STOP", index: 0 },
        ],
        usageMetadata: {
          promptTokenCount: 9,
          candidatesTokenCount: 3,
          thoughtsTokenCount: 40,
          totalTokenCount: 52,
        },
      },
    ];
    const sse = events.map((event) => `data: ${JSON.stringify(event)}\r\n\r\n`).join("");
    const run = gemini.runStream(geminiAdapter, ctx, [sse]);
    expect(run.error).toBeNull();
    const deltas = run.chunks.map((c) => (c as { choices: Array<{ delta: unknown }> }).choices[0]?.delta);
    expect(deltas).toEqual([
      { role: "assistant", content: "" },
      { reasoning_content: "Greeting, in French." },
      { content: "Bonjour !" },
      {},
    ]);
    expect(run.transform.usage()).toMatchObject({ input: 9, output: 43, reasoning: 40 });
  });
});

describe("reasoning_effort → Ollama think", () => {
  const ollamaBody = (upstreamModel: string, fields: Partial<ChatCompletionRequest>, reasoning = true) => {
    const ctx = { ...gemini.contextFor("ollama", "http://localhost:11434", upstreamModel), reasoning };
    return JSON.parse(ollamaAdapter.chat.request(gemini.chatRequest(fields), ctx, false).body);
  };

  it("turns thinking on for every effort but none, which turns it off", () => {
    for (const effort of ["minimal", "low", "medium", "high", "xhigh"] as const)
      expect(ollamaBody("qwen3:8b", { reasoning_effort: effort }).think).toBe(true);
    expect(ollamaBody("qwen3:8b", { reasoning_effort: "none" }).think).toBe(false);
  });

  it("gives gpt-oss a level (minimal low, xhigh high), under a namespace or a cloud tag too", () => {
    const levels = { minimal: "low", low: "low", medium: "medium", high: "high", xhigh: "high" } as const;
    for (const [effort, level] of Object.entries(levels))
      expect(ollamaBody("gpt-oss:20b", { reasoning_effort: effort as keyof typeof levels }).think).toBe(
        level,
      );
    expect(ollamaBody("gpt-oss:120b-cloud", { reasoning_effort: "high" }).think).toBe("high");
    expect(ollamaBody("hf.co/unsloth/GPT-OSS-20b-GGUF:Q4_K_M", { reasoning_effort: "low" }).think).toBe(
      "low",
    );
    expect(ollamaBody("gpt-oss:20b", { reasoning_effort: "none" }).think).toBe(false);
    expect(thinkFor("medium", "my-gpt-oss:latest")).toBe(true);
    expect(takesThinkLevels("gpt-oss")).toBe(true);
  });

  it("sends no think without an effort, or to models the catalog does not mark reasoning", () => {
    for (const fields of [{}, { reasoning_effort: null }])
      expect(ollamaBody("qwen3:8b", fields)).not.toHaveProperty("think");
    expect(ollamaBody("llama3.2", { reasoning_effort: "high" }, false)).not.toHaveProperty("think");
  });
});

describe("Ollama thinking in answers", () => {
  const ctx = gemini.contextFor("ollama", "http://localhost:11434", "qwen3:8b");

  it("gives message.thinking as reasoning_content, never inside content", () => {
    const { completion } = ollamaAdapter.chat.response(
      {
        model: "qwen3:8b",
        message: { role: "assistant", content: "Hallo!", thinking: "Greet in German." },
        done: true,
        done_reason: "stop",
        prompt_eval_count: 9,
        eval_count: 12,
      },
      ctx,
    );
    expect(completion.choices[0]?.message).toEqual({
      role: "assistant",
      content: "Hallo!",
      reasoning_content: "Greet in German.",
    });
    expect(completion.usage?.completion_tokens).toBe(12);
  });

  it("streams thinking lines as reasoning_content before the answer, and counts them as output text", () => {
    const line = (message: Record<string, unknown>, end: Record<string, unknown> = { done: false }) =>
      `${JSON.stringify({ model: "qwen3:8b", message: { role: "assistant", ...message }, ...end })}\n`;
    const wire = [
      line({ content: "", thinking: "Greet" }),
      line({ content: "", thinking: " in German." }),
      line({ content: "Hallo!" }),
      line({ content: "" }, { done: true, done_reason: "stop" }),
    ].join("");
    for (const pieces of [[wire], ...gemini.splits(wire)]) {
      const run = gemini.runStream(ollamaAdapter, ctx, pieces);
      expect(run.error).toBeNull();
      const deltas = run.chunks.map((c) => (c as { choices: Array<{ delta: unknown }> }).choices[0]?.delta);
      expect(deltas).toEqual([
        { role: "assistant", content: "" },
        { reasoning_content: "Greet" },
        { reasoning_content: " in German." },
        { content: "Hallo!" },
        {},
      ]);
      // No counts on the done line: the router estimates the output from this text, thinking included.
      expect(run.transform.usage()).toBeNull();
      expect(run.transform.outputText()).toBe("Greet in German.Hallo!");
    }
  });
});
