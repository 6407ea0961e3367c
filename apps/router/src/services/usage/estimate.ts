import type { ChatCompletionRequest, CompletionRequest, EmbeddingRequest } from "../../openai/requests.ts";
import { generatedText, makeUsage, textOf } from "../../providers/common.ts";
import type { NormalizedUsage } from "../../providers/types.ts";
import { countO200kTokens } from "./tokenizer.ts";

/**
 * Tokens of a text with the o200k tokenizer; an estimate for providers that report no usage. Its ranks (a few
 * MB) load on the first estimate, not at boot.
 */
export function tokensOf(text: string): number {
  return countO200kTokens(text);
}

/**
 * A chat prompt as a tokenizer sees it: every message's role, name and text, the tool calls of earlier
 * assistant turns (their arguments go upstream as prompt: an agent loop's largest part), the tool definitions
 * and a JSON schema the answer must follow. The hold is sized from it, so nothing the provider bills as input
 * may be left out.
 */
export function chatPromptText(request: ChatCompletionRequest): string {
  let text = "";
  for (const message of request.messages) {
    text += `${message.role}\n${message.role !== "tool" && message.name ? `${message.name}\n` : ""}${textOf(message.content)}\n`;
    // An earlier assistant turn's refusal and tool calls, counted as what it generated (its text is above).
    if (message.role === "assistant") text += generatedText({ ...message, content: null });
  }
  if (request.tools) text += JSON.stringify(request.tools);
  if (request.response_format?.type === "json_schema")
    text += JSON.stringify(request.response_format.json_schema);
  return text;
}

/** A legacy prompt as one text. */
export function inputText(input: CompletionRequest["prompt"]): string {
  return typeof input === "string" ? input : input.join("\n");
}

/**
 * Tokens of an embedding input: each text counted with `count` (an estimate for the hold, the tokenizer for
 * usage), a token-id array by its length, a lone token id as one.
 */
export function inputTokens(input: EmbeddingRequest["input"], count: (text: string) => number): number {
  if (typeof input === "string") return count(input);
  let tokens = 0;
  for (const item of input)
    tokens += typeof item === "string" ? count(item) : typeof item === "number" ? 1 : item.length;
  return tokens;
}

/** Usage counted by us (marked estimated) from the prompt text and what was generated so far. */
export function estimateUsage(prompt: string, outputText: string): NormalizedUsage {
  return makeUsage(tokensOf(prompt), tokensOf(outputText), { estimated: true });
}
