import type { OpenAIUsage } from "../../openai/responses.ts";
import { makeUsage } from "../common.ts";
import type { NormalizedUsage } from "../types.ts";

export function isOpenAIUsage(value: unknown): value is OpenAIUsage {
  return (
    typeof value === "object" &&
    value !== null &&
    typeof (value as OpenAIUsage).prompt_tokens === "number" &&
    typeof ((value as OpenAIUsage).completion_tokens ?? 0) === "number"
  );
}

/** OpenAI counts cached tokens inside prompt_tokens and reasoning tokens inside completion_tokens. */
export function fromOpenAIUsage(usage: unknown): NormalizedUsage | null {
  if (!isOpenAIUsage(usage)) return null;
  return makeUsage(usage.prompt_tokens, usage.completion_tokens ?? 0, {
    cached: usage.prompt_tokens_details?.cached_tokens ?? 0,
    reasoning: usage.completion_tokens_details?.reasoning_tokens ?? 0,
  });
}

/** Our normalised usage back in OpenAI's shape (for translated providers and estimates). */
export function toOpenAIUsage(usage: NormalizedUsage): OpenAIUsage {
  return {
    prompt_tokens: usage.input,
    completion_tokens: usage.output,
    total_tokens: usage.input + usage.output,
    prompt_tokens_details: { cached_tokens: usage.cached_input },
    completion_tokens_details: { reasoning_tokens: usage.reasoning },
  };
}
