import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import type { ProviderKind } from "@cloudfreedom/shared";
import type { ChatCompletionRequest } from "../../src/openai/requests.ts";
import type { CallContext, ChatStreamTransform, ProviderAdapter } from "../../src/providers/types.ts";
import { UpstreamStreamError } from "../../src/providers/types.ts";

export function fixture(provider: "gemini" | "ollama", name: string): string {
  return readFileSync(fileURLToPath(new URL(`../fixtures/${provider}/${name}`, import.meta.url)), "utf8");
}

export function jsonFixture(provider: "gemini" | "ollama", name: string): unknown {
  return JSON.parse(fixture(provider, name));
}

export function contextFor(
  kind: ProviderKind,
  baseUrl: string,
  upstreamModel: string,
  apiKey?: string,
): CallContext {
  return {
    target: { name: `${kind}-main`, kind, baseUrl, apiKey, options: {} },
    upstreamModel,
    requestId: "req_01TEST",
  };
}

export function chatRequest(fields: Partial<ChatCompletionRequest>): ChatCompletionRequest {
  return { model: "public-model", messages: [{ role: "user", content: "Hi" }], ...fields };
}

export const CHUNK_ID = "chatcmpl-router";
export const CREATED = 1_700_000_000;

export interface StreamRun {
  chunks: unknown[];
  error: UpstreamStreamError | null;
  transform: ChatStreamTransform;
}

/** Feeds the pieces, then ends; stops at the first UpstreamStreamError, keeping what came before. */
export function runStream(adapter: ProviderAdapter, ctx: CallContext, pieces: string[]): StreamRun {
  const transform = adapter.chat.stream(ctx, { id: CHUNK_ID, created: CREATED });
  const chunks: unknown[] = [];
  try {
    for (const piece of pieces) for (const chunk of transform.push(piece)) chunks.push(JSON.parse(chunk));
    for (const chunk of transform.end()) chunks.push(JSON.parse(chunk));
  } catch (error) {
    if (!(error instanceof UpstreamStreamError)) throw error;
    return { chunks, error, transform };
  }
  return { chunks, error: null, transform };
}

export { byteSplits, splits } from "./stream-splits.ts";

export function chunk(
  model: string,
  delta: Record<string, unknown>,
  finishReason: string | null = null,
  index = 0,
) {
  return {
    id: CHUNK_ID,
    object: "chat.completion.chunk",
    created: CREATED,
    model,
    choices: [{ index, delta, finish_reason: finishReason, logprobs: null }],
  };
}

/** Decodes OpenAI's base64 embedding (little-endian float32) back to numbers. */
export function decodeFloat32(base64: string): number[] {
  const bytes = Buffer.from(base64, "base64");
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return Array.from({ length: bytes.byteLength / 4 }, (_, i) => view.getFloat32(i * 4, true));
}
