import { failureFromStatus, isRecord, tryJson } from "../common.ts";
import type { ProviderAdapter, UpstreamFailure } from "../types.ts";
import { ollamaEmbeddings } from "./embeddings.ts";
import { ollamaChatRequest } from "./request.ts";
import { ollamaChatResponse } from "./response.ts";
import { OllamaStream } from "./stream.ts";
import { OLLAMA } from "./wire.ts";

/** Ollama answers failures as `{"error":"…"}` (404 for a model that is not pulled). */
function ollamaFailure(status: number, body: string, headers: Headers): UpstreamFailure {
  const parsed = tryJson(body);
  const message =
    isRecord(parsed) && typeof parsed.error === "string"
      ? parsed.error
      : body.slice(0, 200) || "no error body";
  return failureFromStatus(status, message, headers, OLLAMA);
}

/** A user's own Ollama through its native API (`/api/chat`, `/api/embed`); completions go through chat. */
export const ollamaAdapter: ProviderAdapter = {
  kind: "ollama",
  chat: {
    request: ollamaChatRequest,
    response: ollamaChatResponse,
    stream: (ctx, options) => new OllamaStream(ctx, options),
  },
  embeddings: ollamaEmbeddings,
  failure: ollamaFailure,
};
