import type { ProviderAdapter } from "../types.ts";
import { geminiEmbeddings } from "./embeddings.ts";
import { geminiFailure } from "./errors.ts";
import { geminiChatRequest } from "./request.ts";
import { geminiChatResponse } from "./response.ts";
import { GeminiStream } from "./stream.ts";

/** Google's Gemini API (`generativelanguage.googleapis.com`, v1beta); legacy completions go through chat. */
export const geminiAdapter: ProviderAdapter = {
  kind: "gemini",
  chat: {
    request: geminiChatRequest,
    response: geminiChatResponse,
    stream: (ctx, options) => new GeminiStream(ctx, options),
  },
  embeddings: geminiEmbeddings,
  failure: geminiFailure,
};
