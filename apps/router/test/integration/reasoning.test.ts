import { ErrorEnvelope } from "@cloudfreedom/shared";
import { countTokens } from "@cloudfreedom/testing";
import OpenAI from "openai";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { tokensOf } from "../../src/services/usage/estimate.ts";
import { type RecordedCalls, recordedCalls } from "./recorded.ts";
import { model, type RouterStack, startRouterStack } from "./stack.ts";

// reasoning_effort reaches Claude, Gemini and Ollama as their own thinking settings; the thinking comes back
// as reasoning_content, never inside the answer, and its tokens are billed as output.
let stack: RouterStack;
let calls: RecordedCalls;
let client: OpenAI;

const thinking = { capabilities: ["chat" as const, "tools" as const, "reasoning" as const] };
beforeAll(async () => {
  stack = await startRouterStack(
    {},
    {
      models: [
        model("claude-think-test", [["anthropic", "claude-sonnet-4-5"]], {
          ...thinking,
          max_output_tokens: 64_000,
        }),
        model("gemini-think-test", [["gemini", "gemini-2.5-flash"]], {
          ...thinking,
          max_output_tokens: 65_536,
        }),
        model("gemini3-think-test", [["gemini", "gemini-3-pro-preview"]], thinking),
        model("qwen3-think-test", [["ollama", "qwen3:8b"]], thinking),
        model("gpt-oss-think-test", [["ollama", "gpt-oss:20b"]], thinking),
      ],
    },
  );
  calls = recordedCalls(stack);
  client = new OpenAI({ apiKey: stack.key, baseURL: `${stack.url}/v1`, maxRetries: 0 });
});
afterAll(async () => {
  await calls?.close();
  await stack?.stop();
});
beforeEach(async () => {
  for (const emulator of Object.values(stack.emulators)) emulator.reset();
  await calls.clear();
});

type Message = OpenAI.ChatCompletionMessage & { reasoning_content?: string };
/** The first choice's message, with the reasoning the router adds. */
const messageOf = (completion: OpenAI.ChatCompletion) =>
  completion.choices[0]?.message as Message | undefined;
type Delta = OpenAI.ChatCompletionChunk.Choice.Delta & { reasoning_content?: string };

const PROMPT = "what is 27 times 453";
const THOUGHT = `Let me think about this request: ${PROMPT}`;
const ANSWER = `Echo: ${PROMPT}`;
const user = [{ role: "user" as const, content: PROMPT }];

/** Test catalog prices (stack.ts): 1 µ an input token, 2 µ an output token. */
const cost = (input: number, output: number) => input + output * 2;

const sent = (emulator: "anthropic" | "gemini" | "ollama") =>
  stack.emulators[emulator].requests.at(-1)?.body as Record<string, unknown>;

async function streamed(body: OpenAI.ChatCompletionCreateParamsStreaming, requestId: string) {
  const stream = await client.chat.completions.create(body, { headers: { "x-request-id": requestId } });
  const deltas: Delta[] = [];
  let usage: OpenAI.CompletionUsage | undefined;
  for await (const chunk of stream) {
    if (chunk.usage) usage = chunk.usage;
    for (const choice of chunk.choices) deltas.push(choice.delta);
  }
  const content = deltas.map((d) => d.content ?? "").join("");
  const reasoning = deltas.map((d) => d.reasoning_content ?? "").join("");
  // Every reasoning delta comes before the first content.
  const firstContent = deltas.findIndex((d) => d.content);
  const lastReasoning = deltas.findLastIndex((d) => d.reasoning_content);
  return { content, reasoning, usage, reasoningFirst: lastReasoning < firstContent };
}

describe("reasoning_effort on Claude (extended thinking)", () => {
  it("thinks with the effort's budget, answers without the thinking and bills it as output", async () => {
    const { data } = await client.chat.completions
      .create(
        { model: "claude-think-test", messages: user, reasoning_effort: "medium" },
        { headers: { "x-request-id": "req-claude-think" } },
      )
      .withResponse();
    expect(sent("anthropic")).toMatchObject({
      max_tokens: 8192 + 4096,
      thinking: { type: "enabled", budget_tokens: 8192 },
    });
    const message = messageOf(data);
    expect(message?.content).toBe(ANSWER);
    expect(message?.reasoning_content).toBe(THOUGHT);
    const output = countTokens(ANSWER) + countTokens(THOUGHT);
    expect(data.usage?.completion_tokens).toBe(output);
    const { event } = await calls.recorded("req-claude-think");
    expect(event.tokens.output).toBe(output);
    expect(event.cost_micros).toBe(cost(event.tokens.input, output));
  });

  it("streams thinking as reasoning_content before the answer, past signatures and redacted thinking", async () => {
    stack.emulators.anthropic.enqueue({ redactedThinking: true, reasoningTokens: 500 });
    const run = await streamed(
      {
        model: "claude-think-test",
        messages: user,
        reasoning_effort: "high",
        stream: true,
        stream_options: { include_usage: true },
      },
      "req-claude-think-stream",
    );
    expect(sent("anthropic")).toMatchObject({
      thinking: { type: "enabled", budget_tokens: 16_384 },
      stream: true,
    });
    expect(run.content).toBe(ANSWER);
    expect(run.reasoning).toBe(THOUGHT);
    expect(run.reasoningFirst).toBe(true);
    const output = countTokens(ANSWER) + countTokens(THOUGHT) + 500;
    expect(run.usage?.completion_tokens).toBe(output);
    const { event } = await calls.recorded("req-claude-think-stream");
    expect(event.tokens.output).toBe(output);
    expect(event.cost_micros).toBe(cost(event.tokens.input, output));
  });

  it("fits the sampling parameters to thinking instead of failing (Anthropic refuses temperature ≠ 1)", async () => {
    const data = await client.chat.completions.create({
      model: "claude-think-test",
      messages: user,
      reasoning_effort: "low",
      temperature: 0.2,
      max_tokens: 3000,
    });
    expect(data.choices[0]?.message.content).toBe(ANSWER);
    const body = sent("anthropic");
    expect(body).toMatchObject({ max_tokens: 3000, thinking: { type: "enabled", budget_tokens: 2048 } });
    expect(body).not.toHaveProperty("temperature");
  });

  it("answers tool results without thinking, as the thinking of the turn that called the tool is gone", async () => {
    const tools = [
      {
        type: "function" as const,
        function: { name: "calc", parameters: { type: "object", properties: { expr: { type: "string" } } } },
      },
    ];
    const data = await client.chat.completions.create({
      model: "claude-think-test",
      reasoning_effort: "high",
      tools,
      messages: [
        ...user,
        {
          role: "assistant",
          content: null,
          tool_calls: [
            { id: "toolu_1", type: "function", function: { name: "calc", arguments: '{"expr":"27*453"}' } },
          ],
        },
        { role: "tool", tool_call_id: "toolu_1", content: "12231" },
      ],
    });
    expect(data.choices[0]?.message.content).toBe("Echo: 12231");
    expect(sent("anthropic")).not.toHaveProperty("thinking");
  });

  it("refuses, before calling Anthropic, a max_tokens that leaves no room for the 1024-token budget", async () => {
    const res = await fetch(`${stack.url}/v1/chat/completions`, {
      method: "POST",
      headers: { authorization: `Bearer ${stack.key}`, "content-type": "application/json" },
      body: JSON.stringify({
        model: "claude-think-test",
        messages: user,
        reasoning_effort: "low",
        max_tokens: 1000,
      }),
    });
    expect(res.status).toBe(400);
    const envelope = ErrorEnvelope.parse(await res.json());
    expect(envelope).toMatchObject({ code: "validation_failed", details: { field: "max_tokens" } });
    expect(envelope.error?.param).toBe("max_tokens");
    expect(envelope.message).toContain('reasoning_effort "low"');
    expect(envelope.message).toContain("max_tokens");
    expect(stack.emulators.anthropic.counts.requests).toBe(0);
  });
});

describe("reasoning_effort on Gemini (thinking config)", () => {
  it("gives 2.5 a thinking budget, keeps thoughts out of the answer and bills thoughtsTokenCount", async () => {
    const { data } = await client.chat.completions
      .create(
        { model: "gemini-think-test", messages: user, reasoning_effort: "high" },
        { headers: { "x-request-id": "req-gemini-think" } },
      )
      .withResponse();
    expect(sent("gemini")).toMatchObject({
      generationConfig: { thinkingConfig: { thinkingBudget: 16_384, includeThoughts: true } },
    });
    const message = messageOf(data);
    expect(message?.content).toBe(ANSWER);
    expect(message?.reasoning_content).toBe(THOUGHT);
    const thoughts = countTokens(THOUGHT);
    expect(data.usage?.completion_tokens).toBe(countTokens(ANSWER) + thoughts);
    expect(data.usage?.completion_tokens_details?.reasoning_tokens).toBe(thoughts);
    const { event } = await calls.recorded("req-gemini-think");
    expect(event.tokens).toMatchObject({ output: countTokens(ANSWER) + thoughts, reasoning: thoughts });
    expect(event.cost_micros).toBe(cost(event.tokens.input, event.tokens.output));
  });

  it("streams thought summaries as reasoning_content before the answer", async () => {
    const run = await streamed(
      {
        model: "gemini-think-test",
        messages: user,
        reasoning_effort: "minimal",
        stream: true,
        stream_options: { include_usage: true },
      },
      "req-gemini-think-stream",
    );
    expect(sent("gemini")).toMatchObject({ generationConfig: { thinkingConfig: { thinkingBudget: 512 } } });
    expect(run).toMatchObject({ content: ANSWER, reasoning: THOUGHT, reasoningFirst: true });
    expect(run.usage?.completion_tokens_details?.reasoning_tokens).toBe(countTokens(THOUGHT));
    const { event } = await calls.recorded("req-gemini-think-stream");
    expect(event.tokens.reasoning).toBe(countTokens(THOUGHT));
  });

  it("turns thinking off for none on 2.5, and gives Gemini 3 a thinking level", async () => {
    const off = await client.chat.completions.create({
      model: "gemini-think-test",
      messages: user,
      reasoning_effort: "none",
    });
    expect(sent("gemini")).toMatchObject({ generationConfig: { thinkingConfig: { thinkingBudget: 0 } } });
    expect(messageOf(off)?.reasoning_content).toBeUndefined();
    expect(off.usage?.completion_tokens_details?.reasoning_tokens).toBe(0);

    const three = await client.chat.completions.create({
      model: "gemini3-think-test",
      messages: user,
      reasoning_effort: "xhigh",
    });
    expect(sent("gemini")).toMatchObject({
      generationConfig: { thinkingConfig: { thinkingLevel: "high", includeThoughts: true } },
    });
    expect(three.choices[0]?.message.content).toBe(ANSWER);
    expect(messageOf(three)?.reasoning_content).toBe(THOUGHT);
  });
});

describe("reasoning_effort on Ollama (think)", () => {
  it("turns thinking on, answers without the thinking and bills it as output (eval_count)", async () => {
    const { data } = await client.chat.completions
      .create(
        { model: "qwen3-think-test", messages: user, reasoning_effort: "medium" },
        { headers: { "x-request-id": "req-ollama-think" } },
      )
      .withResponse();
    expect(sent("ollama")).toMatchObject({ model: "qwen3:8b", think: true, stream: false });
    const message = messageOf(data);
    expect(message?.content).toBe(ANSWER);
    expect(message?.reasoning_content).toBe(THOUGHT);
    const output = countTokens(ANSWER) + countTokens(THOUGHT);
    expect(data.usage?.completion_tokens).toBe(output);
    const { event } = await calls.recorded("req-ollama-think");
    expect(event.tokens.output).toBe(output);
    expect(event.cost_micros).toBe(cost(event.tokens.input, output));
  });

  it("gives gpt-oss a level and streams the thinking as reasoning_content before the answer", async () => {
    const run = await streamed(
      {
        model: "gpt-oss-think-test",
        messages: user,
        reasoning_effort: "xhigh",
        stream: true,
        stream_options: { include_usage: true },
      },
      "req-ollama-think-stream",
    );
    expect(sent("ollama")).toMatchObject({ model: "gpt-oss:20b", think: "high", stream: true });
    expect(run).toMatchObject({ content: ANSWER, reasoning: THOUGHT, reasoningFirst: true });
    const output = countTokens(ANSWER) + countTokens(THOUGHT);
    expect(run.usage?.completion_tokens).toBe(output);
    const { event } = await calls.recorded("req-ollama-think-stream");
    expect(event.tokens.output).toBe(output);
  });

  it("estimates the thinking as output when Ollama reports no counts", async () => {
    stack.emulators.ollama.enqueue({ omitUsage: true });
    const run = await streamed(
      {
        model: "qwen3-think-test",
        messages: user,
        reasoning_effort: "low",
        stream: true,
        stream_options: { include_usage: true },
      },
      "req-ollama-think-estimated",
    );
    expect(run.reasoning).toBe(THOUGHT);
    // The router counts the output itself (o200k), the thinking with the answer.
    const output = tokensOf(THOUGHT + ANSWER);
    expect(run.usage?.completion_tokens).toBe(output);
    const { event } = await calls.recorded("req-ollama-think-estimated");
    expect(event).toMatchObject({ estimated: true, tokens: { output } });

    stack.emulators.ollama.enqueue({ omitUsage: true });
    const whole = await client.chat.completions.create({
      model: "qwen3-think-test",
      messages: user,
      reasoning_effort: "low",
    });
    expect(messageOf(whole)?.reasoning_content).toBe(THOUGHT);
    expect(whole.usage?.completion_tokens).toBe(tokensOf(ANSWER + THOUGHT));
  });

  it("turns thinking off for none, and sends no think without an effort or to models that cannot think", async () => {
    const off = await client.chat.completions.create({
      model: "gpt-oss-think-test",
      messages: user,
      reasoning_effort: "none",
    });
    expect(sent("ollama")).toMatchObject({ think: false });
    expect(off.choices[0]?.message.content).toBe(ANSWER);
    expect(messageOf(off)?.reasoning_content).toBeUndefined();

    await client.chat.completions.create({ model: "qwen3-think-test", messages: user });
    expect(sent("ollama")).not.toHaveProperty("think");
    // llama-test lacks the reasoning capability: think would get Ollama's 400 "does not support thinking".
    const plain = await client.chat.completions.create({
      model: "llama-test",
      messages: user,
      reasoning_effort: "high",
    });
    expect(sent("ollama")).not.toHaveProperty("think");
    expect(plain.choices[0]?.message.content).toBe(ANSWER);
  });
});
