import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import type { ChatCompletionRequest } from "../../src/openai/requests.ts";
import { anthropicAdapter } from "../../src/providers/anthropic/index.ts";
import type { CallContext } from "../../src/providers/types.ts";
import { UpstreamStreamError } from "../../src/providers/types.ts";

export function fixture(name: string): string {
  return readFileSync(fileURLToPath(new URL(`../fixtures/anthropic/${name}`, import.meta.url)), "utf8");
}

export function jsonFixture(name: string): unknown {
  return JSON.parse(fixture(name));
}

export const ctx: CallContext = {
  target: {
    name: "anthropic-main",
    kind: "anthropic",
    baseUrl: "https://api.anthropic.com/",
    apiKey: "sk-ant-test-key",
    options: {},
  },
  upstreamModel: "claude-sonnet-4-5-20250929",
  requestId: "req_test",
};

export function chatRequest(fields: Partial<ChatCompletionRequest>): ChatCompletionRequest {
  return { model: "claude", messages: [{ role: "user", content: "Hi" }], ...fields };
}

/** The JSON body the adapter would send upstream. */
export function upstreamBody(
  fields: Partial<ChatCompletionRequest>,
  stream = false,
): Record<string, unknown> {
  return JSON.parse(anthropicAdapter.chat.request(chatRequest(fields), ctx, stream).body);
}

export const CREATED = 1_700_000_000;

export interface StreamRun {
  chunks: unknown[];
  error: UpstreamStreamError | null;
  transform: ReturnType<typeof anthropicAdapter.chat.stream>;
}

/** Feeds the pieces in order, then ends; stops at the first UpstreamStreamError and keeps what came before. */
export function runStream(pieces: string[]): StreamRun {
  const transform = anthropicAdapter.chat.stream(ctx, { id: "chatcmpl-fallback", created: CREATED });
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
