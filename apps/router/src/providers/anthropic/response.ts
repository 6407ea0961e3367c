import { AppError } from "@cloudfreedom/shared";
import type { ToolCall } from "../../openai/requests.ts";
import type { ChatCompletion } from "../../openai/responses.ts";
import { isRecord, toolCallId } from "../common.ts";
import { toOpenAIUsage } from "../openai/usage.ts";
import type { CallContext, NormalizedUsage } from "../types.ts";
import { emptyCounts, normalizeCounts, readUsage } from "./usage.ts";
import { ANTHROPIC, finishReasonOf, stringOr } from "./wire.ts";

/**
 * An Anthropic `message` → OpenAI `chat.completion`. Text blocks are concatenated; tool_use blocks become
 * tool calls; thinking blocks become `reasoning_content` (the field DeepSeek and OpenRouter use), without
 * their signature, which a client could not send back; redacted_thinking (encrypted) and server-tool blocks
 * have no OpenAI counterpart and are left out. Thinking tokens are inside Anthropic's output_tokens.
 */
export function toChatCompletion(
  body: unknown,
  ctx: CallContext,
  now = Date.now(),
): { completion: ChatCompletion; usage: NormalizedUsage | null } {
  if (!isRecord(body) || !Array.isArray(body.content)) {
    throw new AppError("upstream_error", `${ANTHROPIC} answered with something that is not a message`);
  }
  let text = "";
  let reasoning = "";
  const toolCalls: ToolCall[] = [];
  for (const block of body.content) {
    if (!isRecord(block)) continue;
    if (block.type === "text" && typeof block.text === "string") text += block.text;
    else if (block.type === "thinking" && typeof block.thinking === "string") reasoning += block.thinking;
    else if (block.type === "tool_use") {
      toolCalls.push({
        id: stringOr(block.id, toolCallId(ctx.requestId, toolCalls.length)),
        type: "function",
        function: { name: stringOr(block.name, ""), arguments: JSON.stringify(block.input ?? {}) },
      });
    }
  }

  const counts = emptyCounts();
  const usage = readUsage(body.usage, counts) ? normalizeCounts(counts) : null;
  const completion: ChatCompletion = {
    id: stringOr(body.id, ctx.requestId),
    object: "chat.completion",
    created: Math.floor(now / 1000),
    model: stringOr(body.model, ctx.upstreamModel),
    choices: [
      {
        index: 0,
        message: {
          role: "assistant",
          content: text === "" && toolCalls.length > 0 ? null : text,
          ...(toolCalls.length > 0 ? { tool_calls: toolCalls } : {}),
          refusal: null,
          ...(reasoning !== "" ? { reasoning_content: reasoning } : {}),
        },
        finish_reason: finishReasonOf(body.stop_reason),
        logprobs: null,
      },
    ],
  };
  if (usage) completion.usage = toOpenAIUsage(usage);
  return { completion, usage };
}
