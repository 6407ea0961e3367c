import { AppError } from "@cloudfreedom/shared";
import type { ChatCompletion, ChatCompletionMessage, FinishReason } from "../../openai/responses.ts";
import { isRecord, makeUsage, toolCallId } from "../common.ts";
import { toOpenAIUsage } from "../openai/usage.ts";
import type { CallContext, NormalizedUsage, UpstreamFailure } from "../types.ts";
import type { GeminiPart, GeminiResponse, GeminiUsageMetadata } from "./wire.ts";

/**
 * `finishReason` → OpenAI. Every safety-style stop (policy, recitation, blocklist, personal data) is a
 * content filter; the rest (OTHER, LANGUAGE, MALFORMED_FUNCTION_CALL, …) have no OpenAI equivalent and end
 * the choice as a plain stop.
 */
const FINISH_REASONS: Readonly<Record<string, FinishReason>> = {
  STOP: "stop",
  MAX_TOKENS: "length",
  SAFETY: "content_filter",
  RECITATION: "content_filter",
  BLOCKLIST: "content_filter",
  PROHIBITED_CONTENT: "content_filter",
  SPII: "content_filter",
  IMAGE_SAFETY: "content_filter",
};

/** A normal stop after function calls is OpenAI's `tool_calls`; Gemini says STOP. */
export function finishReasonOf(reason: string | undefined, hasToolCalls: boolean): FinishReason {
  const mapped = (reason ? FINISH_REASONS[reason] : undefined) ?? "stop";
  return mapped === "stop" && hasToolCalls ? "tool_calls" : mapped;
}

/**
 * The visible text of a candidate, its thought summaries (never part of the text) and its function calls,
 * in order.
 */
export function readParts(parts: GeminiPart[] | undefined): {
  text: string;
  reasoning: string;
  calls: Array<{ name: string; args: Record<string, unknown>; id: string | undefined }>;
} {
  let text = "";
  let reasoning = "";
  const calls: Array<{ name: string; args: Record<string, unknown>; id: string | undefined }> = [];
  for (const part of parts ?? []) {
    if (typeof part.text === "string") {
      if (part.thought === true) reasoning += part.text;
      else text += part.text;
    }
    const call = part.functionCall;
    if (call && typeof call.name === "string") {
      calls.push({ name: call.name, args: isRecord(call.args) ? call.args : {}, id: call.id || undefined });
    }
  }
  return { text, reasoning, calls };
}

/**
 * OpenAI counts reasoning inside completion_tokens and cached tokens inside prompt_tokens; Gemini reports
 * thoughts beside the candidates and counts cached content inside the prompt. Tokens of server-side tool
 * results (`toolUsePromptTokenCount`) are billed as input.
 */
export function usageOf(meta: GeminiUsageMetadata | undefined): NormalizedUsage | null {
  if (!meta) return null;
  const thoughts = meta.thoughtsTokenCount ?? 0;
  return makeUsage(
    (meta.promptTokenCount ?? 0) + (meta.toolUsePromptTokenCount ?? 0),
    (meta.candidatesTokenCount ?? 0) + thoughts,
    { cached: meta.cachedContentTokenCount ?? 0, reasoning: thoughts },
  );
}

/** The 400 a blocked prompt becomes: the caller's prompt, not the provider, is the problem. */
export function blockedPromptFailure(feedback: GeminiResponse["promptFeedback"]): UpstreamFailure {
  const reason = feedback?.blockReason ?? "BLOCK_REASON_UNSPECIFIED";
  const why = feedback?.blockReasonMessage ?? "the provider's content policy refused it; change the prompt";
  return {
    status: 400,
    code: "invalid_request",
    message: `Gemini blocked the prompt (${reason}): ${why}`,
    retryable: false,
    retryAfterMs: null,
  };
}

export function geminiChatResponse(
  body: unknown,
  ctx: CallContext,
): { completion: ChatCompletion; usage: NormalizedUsage | null } {
  const response = (isRecord(body) ? body : {}) as GeminiResponse;
  const candidates = Array.isArray(response.candidates) ? response.candidates : [];
  if (candidates.length === 0) {
    if (response.promptFeedback?.blockReason) {
      const failure = blockedPromptFailure(response.promptFeedback);
      throw new AppError(failure.code, failure.message, {
        block_reason: response.promptFeedback.blockReason,
      });
    }
    throw new AppError("upstream_error", "Gemini answered without any candidate");
  }
  let generated = 0;
  const choices = candidates.map((candidate, i): ChatCompletion["choices"][number] => {
    const { text, reasoning, calls } = readParts(candidate.content?.parts);
    const message: ChatCompletionMessage = {
      role: "assistant",
      content: text === "" && calls.length > 0 ? null : text,
    };
    if (reasoning !== "") message.reasoning_content = reasoning;
    if (calls.length > 0) {
      message.tool_calls = calls.map((call) => ({
        id: call.id ?? toolCallId(ctx.requestId, generated++),
        type: "function",
        function: { name: call.name, arguments: JSON.stringify(call.args) },
      }));
    }
    const finish_reason = finishReasonOf(candidate.finishReason, calls.length > 0);
    return { index: candidate.index ?? i, message, finish_reason, logprobs: null };
  });
  const usage = usageOf(response.usageMetadata);
  const completion: ChatCompletion = {
    id: `chatcmpl-${response.responseId ?? ctx.requestId}`,
    object: "chat.completion",
    created: Math.floor(Date.now() / 1000),
    model: response.modelVersion ?? ctx.upstreamModel,
    choices,
  };
  if (usage) completion.usage = toOpenAIUsage(usage);
  return { completion, usage };
}
