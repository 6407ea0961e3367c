/**
 * OpenAI's response shapes, as the router emits them. Types only: responses are built by our own code,
 * so they are not re-validated at runtime on the hot path.
 */
import type { ToolCall } from "./requests.ts";

export type FinishReason = "stop" | "length" | "tool_calls" | "content_filter" | "function_call";

export interface OpenAIUsage {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
  prompt_tokens_details?: { cached_tokens?: number; audio_tokens?: number };
  completion_tokens_details?: { reasoning_tokens?: number; audio_tokens?: number };
}

export interface ChatCompletionMessage {
  role: "assistant";
  content: string | null;
  tool_calls?: ToolCall[];
  refusal?: string | null;
  /**
   * The model's reasoning where the provider returns it (Anthropic thinking, Gemini thought summaries, Ollama's
   * `thinking`).
   */
  reasoning_content?: string;
}

export interface ChatCompletion {
  id: string;
  object: "chat.completion";
  created: number;
  model: string;
  choices: Array<{
    index: number;
    message: ChatCompletionMessage;
    finish_reason: FinishReason | null;
    logprobs: null;
  }>;
  usage?: OpenAIUsage;
  system_fingerprint?: string | null;
}

export interface ToolCallDelta {
  index: number;
  id?: string;
  type?: "function";
  function?: { name?: string; arguments?: string };
}

export interface ChatCompletionChunk {
  id: string;
  object: "chat.completion.chunk";
  created: number;
  model: string;
  choices: Array<{
    index: number;
    delta: {
      role?: "assistant";
      content?: string | null;
      tool_calls?: ToolCallDelta[];
      refusal?: string | null;
      reasoning_content?: string;
    };
    finish_reason: FinishReason | null;
    logprobs?: null;
  }>;
  usage?: OpenAIUsage | null;
  system_fingerprint?: string | null;
}

export interface Completion {
  id: string;
  object: "text_completion";
  created: number;
  model: string;
  choices: Array<{ index: number; text: string; finish_reason: FinishReason | null; logprobs: null }>;
  usage?: OpenAIUsage;
}

export interface EmbeddingList {
  object: "list";
  data: Array<{ object: "embedding"; index: number; embedding: number[] | string }>;
  model: string;
  usage: { prompt_tokens: number; total_tokens: number };
}
