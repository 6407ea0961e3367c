import { AppError } from "@cloudfreedom/shared";
import type { ToolCall } from "../../openai/requests.ts";
import type { ChatCompletion, ChatCompletionMessage, FinishReason } from "../../openai/responses.ts";
import { isRecord, makeUsage, toolCallId } from "../common.ts";
import { toOpenAIUsage } from "../openai/usage.ts";
import type { CallContext, NormalizedUsage } from "../types.ts";
import type { OllamaChatResponse } from "./wire.ts";
import { OLLAMA } from "./wire.ts";

/** `done_reason` is "stop" or "length" for an answer; a tool call ends with "stop" on Ollama. */
export function finishReasonOf(doneReason: string | undefined, hasToolCalls: boolean): FinishReason {
  if (hasToolCalls) return "tool_calls";
  return doneReason === "length" ? "length" : "stop";
}

/** Ollama's tool calls with OpenAI's string arguments; an id is made up where the server gives none. */
export function readToolCalls(calls: unknown, nextId: () => string): ToolCall[] {
  if (!Array.isArray(calls)) return [];
  return calls.flatMap((call: unknown): ToolCall[] => {
    if (!isRecord(call) || !isRecord(call.function) || typeof call.function.name !== "string") return [];
    const args = call.function.arguments;
    return [
      {
        id: typeof call.id === "string" && call.id ? call.id : nextId(),
        type: "function",
        function: {
          name: call.function.name,
          arguments: typeof args === "string" ? args : JSON.stringify(args ?? {}),
        },
      },
    ];
  });
}

/**
 * The counts of the final (`done`) object; `prompt_eval_count` already includes cached prompt tokens. Servers
 * before mid-2024 leave it out when the whole prompt came from their cache: then there is no usage to trust
 * (null), and the router counts prompt and output itself, marked estimated, rather than bill the prompt as 0.
 */
export function usageOf(response: OllamaChatResponse): NormalizedUsage | null {
  const prompt = response.prompt_eval_count;
  const output = response.eval_count;
  if (typeof prompt !== "number") return null;
  return makeUsage(prompt, output ?? 0, { cached: response.prompt_eval_cached_count ?? 0 });
}

/**
 * `message.thinking` (what a thinking model reasoned, kept apart from `content` by Ollama) becomes
 * `reasoning_content`, as for the other providers; its tokens are inside `eval_count`.
 */
export function ollamaChatResponse(
  body: unknown,
  ctx: CallContext,
): { completion: ChatCompletion; usage: NormalizedUsage | null } {
  const response = (isRecord(body) ? body : {}) as OllamaChatResponse;
  if (typeof response.error === "string")
    throw new AppError("upstream_error", `${OLLAMA}: ${response.error}`);
  let generated = 0;
  const toolCalls = readToolCalls(response.message?.tool_calls, () => toolCallId(ctx.requestId, generated++));
  const text = typeof response.message?.content === "string" ? response.message.content : "";
  const message: ChatCompletionMessage = {
    role: "assistant",
    content: text === "" && toolCalls.length > 0 ? null : text,
  };
  const thinking = response.message?.thinking;
  if (typeof thinking === "string" && thinking !== "") message.reasoning_content = thinking;
  if (toolCalls.length > 0) message.tool_calls = toolCalls;
  const usage = usageOf(response);
  const created = response.created_at ? Date.parse(response.created_at) : Number.NaN;
  const completion: ChatCompletion = {
    id: `chatcmpl-${ctx.requestId}`,
    object: "chat.completion",
    created: Math.floor((Number.isNaN(created) ? Date.now() : created) / 1000),
    model: response.model ?? ctx.upstreamModel,
    choices: [
      {
        index: 0,
        message,
        finish_reason: finishReasonOf(response.done_reason, toolCalls.length > 0),
        logprobs: null,
      },
    ],
  };
  if (usage) completion.usage = toOpenAIUsage(usage);
  return { completion, usage };
}
