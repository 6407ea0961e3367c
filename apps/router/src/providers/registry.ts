import { anthropicAdapter } from "./anthropic/index.ts";
import { geminiAdapter } from "./gemini/index.ts";
import { ollamaAdapter } from "./ollama/index.ts";
import { azureAdapter, openAIAdapter, openRouterAdapter } from "./openai/index.ts";
import type { AdapterRegistry } from "./types.ts";

/** Every provider kind's adapter, typed by kind (no `any`, no string-keyed guesswork). */
export const ADAPTERS: AdapterRegistry = {
  openai: openAIAdapter,
  azure: azureAdapter,
  openrouter: openRouterAdapter,
  anthropic: anthropicAdapter,
  gemini: geminiAdapter,
  ollama: ollamaAdapter,
};
