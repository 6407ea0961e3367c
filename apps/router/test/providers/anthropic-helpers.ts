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
export function runStream(pieces: string[], includeUsage = true): StreamRun {
  const transform = anthropicAdapter.chat.stream(ctx, {
    includeUsage,
    id: "chatcmpl-fallback",
    created: CREATED,
  });
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

/** Deterministic PRNG (mulberry32) so random splits are reproducible. */
function random(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * Every way to cut the text that matters: at each single position (mid-line, mid-JSON, between the two
 * halves of a surrogate pair), one character at a time, and seeded random multi-way cuts.
 */
export function splits(text: string): string[][] {
  const out: string[][] = [];
  for (let i = 0; i <= text.length; i++) out.push([text.slice(0, i), text.slice(i)]);
  out.push(Array.from({ length: text.length }, (_, i) => text.charAt(i)));
  const next = random(42);
  for (let run = 0; run < 50; run++) {
    const pieces: string[] = [];
    for (let at = 0; at < text.length; ) {
      const size = 1 + Math.floor(next() * 40);
      pieces.push(text.slice(at, at + size));
      at += size;
    }
    out.push(pieces);
  }
  return out;
}

/** The text as the router sees it: bytes cut at every position, decoded with a streaming TextDecoder. */
export function byteSplits(text: string): string[][] {
  const bytes = new TextEncoder().encode(text);
  const out: string[][] = [];
  for (let i = 0; i <= bytes.length; i++) {
    const decoder = new TextDecoder();
    out.push([
      decoder.decode(bytes.subarray(0, i), { stream: true }),
      decoder.decode(bytes.subarray(i), { stream: true }),
      decoder.decode(),
    ]);
  }
  return out;
}
