/**
 * Deterministic upstream emulators (OpenAI + Azure paths, Anthropic, Gemini, Ollama) on 127.0.0.1.
 *
 * Answer: a forced `toolCall` behaviour, else a call to the first offered tool (unless tool use is disabled or
 * the conversation ends with a tool result) with arguments from its schema, else `reply` or `Echo: <last user
 * text>` (JSON-wrapped as `{"reply": …}` in JSON mode), cut at the first stop sequence, then to max tokens.
 * Streams carry `TOKENS_PER_CHUNK` tokens per content frame.
 *
 * Tokens (`countTokens`): prompt = sum over every text the request carries (OpenAI/Ollama message `content`
 * strings and `text` parts; Anthropic `system` plus text blocks and tool_result texts; Gemini
 * `systemInstruction` plus `text` parts); images, tool definitions and role names count 0. Output = tokens of
 * the answer text, or of the tool arguments as compact JSON, per choice/candidate.
 * Behaviour extras: OpenAI completion_tokens and Anthropic output_tokens add `reasoningTokens`; cached tokens
 * are a subset of OpenAI prompt_tokens / Gemini promptTokenCount, and are taken out of Anthropic input_tokens
 * (with `cacheCreationTokens`); Gemini reports thoughts separately and adds them to totalTokenCount.
 */
import { type AnthropicEmulatorOptions, startAnthropicEmulator } from "./anthropic/index.ts";
import type { EmulatorHandle } from "./core/types.ts";
import { type GeminiEmulatorOptions, startGeminiEmulator } from "./gemini/index.ts";
import { type OllamaEmulatorOptions, startOllamaEmulator } from "./ollama/index.ts";
import { type OpenAIEmulatorOptions, startOpenAIEmulator } from "./openai/index.ts";

export type { AnthropicEmulatorOptions } from "./anthropic/index.ts";
export { DEFAULT_ANTHROPIC_KEY, startAnthropicEmulator } from "./anthropic/index.ts";
export type { Behaviour } from "./core/behaviour.ts";
export { embedText, float32Base64 } from "./core/embedding.ts";
export { argumentsFor, echoText } from "./core/reply.ts";
export { countTokens, splitChunks, TOKENS_PER_CHUNK, truncateTokens } from "./core/tokens.ts";
export type {
  EmulatorCounts,
  EmulatorHandle,
  EmulatorOptions,
  ProviderName,
  RecordedRequest,
} from "./core/types.ts";
export type { GeminiEmulatorOptions } from "./gemini/index.ts";
export { DEFAULT_GEMINI_KEY, startGeminiEmulator } from "./gemini/index.ts";
export type { OllamaEmulatorOptions } from "./ollama/index.ts";
export { DEFAULT_OLLAMA_MODELS, startOllamaEmulator } from "./ollama/index.ts";
export { LEGACY_DEFAULT_MAX_TOKENS } from "./openai/completions.ts";
export type { OpenAIEmulatorOptions } from "./openai/index.ts";
export { DEFAULT_OPENAI_KEY, DEFAULT_OPENAI_MODELS, startOpenAIEmulator } from "./openai/index.ts";

export interface Emulators {
  openai: EmulatorHandle;
  anthropic: EmulatorHandle;
  gemini: EmulatorHandle;
  ollama: EmulatorHandle;
  /** `reset()` on all four. */
  reset(): void;
  stop(): Promise<void>;
}

/** All four emulators, each on its own free port. */
export async function startEmulators(
  options: {
    openai?: OpenAIEmulatorOptions;
    anthropic?: AnthropicEmulatorOptions;
    gemini?: GeminiEmulatorOptions;
    ollama?: OllamaEmulatorOptions;
  } = {},
): Promise<Emulators> {
  const [openai, anthropic, gemini, ollama] = await Promise.all([
    startOpenAIEmulator(options.openai),
    startAnthropicEmulator(options.anthropic),
    startGeminiEmulator(options.gemini),
    startOllamaEmulator(options.ollama),
  ]);
  const all = [openai, anthropic, gemini, ollama];
  return {
    openai,
    anthropic,
    gemini,
    ollama,
    reset: () => {
      for (const handle of all) handle.reset();
    },
    stop: async () => {
      await Promise.all(all.map((handle) => handle.stop()));
    },
  };
}
