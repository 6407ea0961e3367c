import type { ProviderAdapter } from "../types.ts";
import { anthropicFailure } from "./errors.ts";
import { ANTHROPIC_DEFAULT_MAX_TOKENS, anthropicChatRequest } from "./request.ts";
import { toChatCompletion } from "./response.ts";
import { AnthropicChatStream } from "./stream.ts";

export { ANTHROPIC_DEFAULT_MAX_TOKENS, ANTHROPIC_DEFAULT_VERSION } from "./request.ts";

export interface AnthropicAdapterOptions {
  /** `max_tokens` sent when the client sets none (Anthropic requires one). */
  defaultMaxTokens?: number;
}

/** Anthropic Messages API. No embeddings endpoint; legacy completions go through chat. */
export function createAnthropicAdapter(options: AnthropicAdapterOptions = {}): ProviderAdapter {
  const requestOptions = { defaultMaxTokens: options.defaultMaxTokens ?? ANTHROPIC_DEFAULT_MAX_TOKENS };
  return {
    kind: "anthropic",
    chat: {
      request: (req, ctx, stream) => anthropicChatRequest(req, ctx, stream, requestOptions),
      response: (body, ctx) => toChatCompletion(body, ctx),
      stream: (ctx, streamOptions) => new AnthropicChatStream(ctx, streamOptions),
    },
    embeddings: null,
    failure: anthropicFailure,
  };
}

export const anthropicAdapter: ProviderAdapter = createAnthropicAdapter();
