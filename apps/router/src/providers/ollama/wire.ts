/** The parts of Ollama's native API (`/api/chat`, `/api/embed`) we use. */

export const OLLAMA = "Ollama";

export interface OllamaToolCall {
  id?: string;
  /** Arguments are a JSON object on this API, not a string as in OpenAI's. */
  function: { index?: number; name: string; arguments: Record<string, unknown> };
}

export interface OllamaMessage {
  role: "system" | "user" | "assistant" | "tool";
  content: string;
  /** Base64 without the `data:` prefix. */
  images?: string[];
  tool_calls?: OllamaToolCall[];
  /** On `tool` messages: the function answered (newer servers) and the call's id. */
  tool_name?: string;
  tool_call_id?: string;
  /** Reasoning of thinking models; not part of the answer. */
  thinking?: string;
}

export interface OllamaOptions {
  temperature?: number;
  top_p?: number;
  num_predict?: number;
  stop?: string[];
  seed?: number;
  presence_penalty?: number;
  frequency_penalty?: number;
}

/** gpt-oss's thinking levels; other thinking models take only a boolean. */
export type OllamaThinkLevel = "low" | "medium" | "high";
export type OllamaThink = boolean | OllamaThinkLevel;

export interface OllamaChatBody {
  model: string;
  messages: OllamaMessage[];
  stream: boolean;
  tools?: Array<{ type: "function"; function: { name: string; description?: string; parameters?: unknown } }>;
  format?: "json" | Record<string, unknown>;
  options?: OllamaOptions;
  /** Thinking on or off, or a level; absent, a thinking model thinks (Ollama's default). */
  think?: OllamaThink;
}

/** One `/api/chat` answer, or one NDJSON line of a stream; the `done: true` line carries the counts. */
export interface OllamaChatResponse {
  model?: string;
  created_at?: string;
  message?: Partial<OllamaMessage>;
  done?: boolean;
  done_reason?: string;
  /** All prompt tokens, cached ones included (servers before mid-2024 omitted it on a cache hit). */
  prompt_eval_count?: number;
  /** Of which read from the KV cache (newer servers). */
  prompt_eval_cached_count?: number;
  /** Every generated token, thinking included: Ollama splits the thinking off only after generating it. */
  eval_count?: number;
  /** A failure; mid-stream it arrives as a line of its own after a 200. */
  error?: string;
}
