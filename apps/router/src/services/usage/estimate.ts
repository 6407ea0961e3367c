import { createRequire } from "node:module";
import type { ChatCompletionRequest, CompletionRequest, EmbeddingRequest } from "../../openai/requests.ts";
import { makeUsage, textOf } from "../../providers/common.ts";
import type { NormalizedUsage } from "../../providers/types.ts";

type CountTokens = (text: string) => number;
let countTokens: CountTokens | undefined;

/**
 * Tokens of a text with the o200k tokenizer; an estimate for providers that report no usage. The BPE
 * tables cost tens of MB, so they load on the first estimate, not at boot.
 */
export function tokensOf(text: string): number {
  if (!text) return 0;
  countTokens ??= (createRequire(import.meta.url)("gpt-tokenizer") as { countTokens: CountTokens })
    .countTokens;
  return countTokens(text);
}

/** A chat prompt as a tokenizer sees it: every message's role and text, plus tool definitions. */
export function chatPromptText(request: ChatCompletionRequest): string {
  let text = "";
  for (const message of request.messages) text += `${message.role}\n${textOf(message.content)}\n`;
  if (request.tools) text += JSON.stringify(request.tools);
  return text;
}

/** A legacy prompt or embedding input; token-id arrays are counted by the caller from their length. */
export function inputText(input: CompletionRequest["prompt"] | EmbeddingRequest["input"]): string {
  if (typeof input === "string") return input;
  return input.map((item) => (typeof item === "string" ? item : "")).join("\n");
}

/** Usage counted by us (marked estimated) from the prompt text and what was generated so far. */
export function estimateUsage(prompt: string, outputText: string): NormalizedUsage {
  return makeUsage(tokensOf(prompt), tokensOf(outputText), { estimated: true });
}
