import { Buffer } from "node:buffer";
import { AppError, type ErrorCode } from "@cloudfreedom/shared";
import type { ChatMessage, EmbeddingRequest } from "../openai/requests.ts";
import type { EmbeddingList } from "../openai/responses.ts";
import type { CallContext, NormalizedUsage, UpstreamFailure } from "./types.ts";

/** The text of an OpenAI message content (string or parts); non-text parts contribute nothing. */
export function textOf(content: ChatMessage["content"] | undefined): string {
  if (content === null || content === undefined) return "";
  if (typeof content === "string") return content;
  let text = "";
  for (const part of content) if (part.type === "text") text += part.text;
  return text;
}

/** An OpenAI-shaped message or stream delta, as far as what it generated goes. */
export interface GeneratedPart {
  content?: string | null;
  /** DeepSeek, vLLM and the router itself carry a reasoning model's thinking here; OpenRouter in `reasoning`. */
  reasoning_content?: string | null;
  reasoning?: string | null;
  refusal?: string | null;
  tool_calls?: Array<{ function?: { name?: string; arguments?: string } }> | null;
}

/**
 * What a message or a stream delta generated, for a usage estimate: the answer (or refusal), the reasoning
 * and the tool calls, all billed as output. An assistant turn sent back as prompt is counted the same way.
 */
export function generatedText(part: GeneratedPart | undefined): string {
  if (!part) return "";
  let text = (part.reasoning_content ?? part.reasoning ?? "") + (part.content ?? "") + (part.refusal ?? "");
  for (const call of part.tool_calls ?? [])
    text += (call.function?.name ?? "") + (call.function?.arguments ?? "");
  return text;
}

/**
 * A count as a whole number of tokens: an upstream that reports a fraction, a negative or a non-number must
 * not make pricing throw, which would leave the call unsettled and without its usage event.
 */
const tokenCount = (n: number | undefined): number =>
  typeof n === "number" && Number.isFinite(n) && n > 0 ? Math.round(n) : 0;

export function makeUsage(
  input: number,
  output: number,
  extra: {
    cached?: number;
    cacheWrite?: number;
    cacheWrite1h?: number;
    reasoning?: number;
    estimated?: boolean;
  } = {},
): NormalizedUsage {
  // A count that was not one (negative, not a number) is replaced, so the usage is no longer exact.
  const invalid = [input, output, extra.cached, extra.cacheWrite, extra.cacheWrite1h, extra.reasoning].some(
    (n) => n !== undefined && !(typeof n === "number" && Number.isFinite(n) && n >= 0),
  );
  return {
    input: tokenCount(input),
    output: tokenCount(output),
    cached_input: tokenCount(extra.cached),
    cache_write: tokenCount(extra.cacheWrite),
    cache_write_1h: tokenCount(extra.cacheWrite1h),
    reasoning: tokenCount(extra.reasoning),
    estimated: (extra.estimated ?? false) || invalid,
  };
}

/** `Retry-After` as milliseconds: delta-seconds or an HTTP date; `retry-after-ms` wins when present. */
export function retryAfterMs(headers: Headers, now = Date.now()): number | null {
  const ms = headers.get("retry-after-ms");
  if (ms && Number.isFinite(Number(ms))) return Math.max(0, Number(ms));
  const value = headers.get("retry-after");
  if (!value) return null;
  const seconds = Number(value);
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
  const date = Date.parse(value);
  return Number.isNaN(date) ? null : Math.max(0, date - now);
}

/**
 * The status-driven part of every provider's error mapping. A client error the provider blames on the
 * request is the caller's (400, not retried anywhere); credentials, the provider account (402) or a missing
 * upstream model are the operator's at that deployment (502, another deployment is tried); rate limits,
 * timeouts and 5xx are worth another attempt or deployment.
 */
export function failureFromStatus(
  status: number,
  message: string,
  headers: Headers,
  provider: string,
): UpstreamFailure {
  const after = retryAfterMs(headers);
  const make = (code: ErrorCode, retryable: boolean, text = message): UpstreamFailure => ({
    status,
    code,
    message: text,
    retryable,
    retryAfterMs: after,
  });
  if (status === 400 || status === 413 || status === 422)
    return make("invalid_request", false, `${provider}: ${message}`);
  if (status === 401 || status === 403) {
    const text = `${provider} refused the platform's credentials; the operator must fix the provider key`;
    return { ...make("upstream_error", false, text), fallback: true };
  }
  if (status === 402)
    return { ...make("upstream_error", false, `${provider} wants payment: ${message}`), fallback: true };
  if (status === 404) return { ...make("upstream_error", false, `${provider}: ${message}`), fallback: true };
  if (status === 429) return make("rate_limited", true, `${provider} is rate limiting: ${message}`);
  if (status === 408 || status === 504)
    return make("upstream_timeout", true, `${provider} timed out: ${message}`);
  if (status === 409 || status >= 500)
    return make("upstream_error", true, `${provider} failed (${status}): ${message}`);
  return make("upstream_error", false, `${provider} answered ${status}: ${message}`);
}

/** Parse JSON without throwing; `undefined` when it is not JSON. */
export function tryJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** A request field the provider cannot take, as a 400 naming it (`messages[2].content[0].image_url.url`). */
export function invalidField(field: string, message: string): AppError {
  return new AppError("validation_failed", `${field}: ${message}`, { field });
}

/** `data:<media type>[;…];base64,<data>` split into its parts; `null` for anything else. */
export function parseDataUrl(url: string): { mediaType: string; data: string } | null {
  if (!url.startsWith("data:")) return null;
  const comma = url.indexOf(",");
  if (comma === -1) return null;
  const params = url.slice(5, comma).split(";");
  const mediaType = params[0]?.trim().toLowerCase();
  if (!mediaType || params[params.length - 1]?.toLowerCase() !== "base64") return null;
  return { mediaType, data: url.slice(comma + 1) };
}

/** A tool call's `arguments` string as the object providers want; "" (sent for no parameters) is `{}`. */
export function parseToolArguments(args: string, field: string): Record<string, unknown> {
  if (args.trim() === "") return {};
  const parsed = tryJson(args);
  if (parsed === undefined) throw invalidField(field, "must be valid JSON");
  if (!isRecord(parsed)) throw invalidField(field, "must be a JSON object");
  return parsed;
}

/** The function a `tool` message answers: the nearest earlier assistant tool call with its id. */
export function toolCallName(messages: readonly ChatMessage[], index: number): string | null {
  const message = messages[index];
  if (message?.role !== "tool") return null;
  for (let i = index - 1; i >= 0; i--) {
    const earlier = messages[i];
    if (earlier?.role !== "assistant") continue;
    const call = earlier.tool_calls?.find((c) => c.id === message.tool_call_id);
    if (call) return call.function.name;
  }
  return null;
}

/** An id for a tool call the provider gave none; unique across requests, so clients can key on it. */
export function toolCallId(requestId: string, n: number): string {
  return `call_${requestId.replace(/^req_/, "")}_${n}`;
}

/** OpenAI's `stop` as a list. */
export function stopList(stop: string | string[] | null | undefined): string[] | undefined {
  if (stop === null || stop === undefined) return undefined;
  return typeof stop === "string" ? [stop] : stop;
}

/** An embedding in OpenAI's `encoding_format: "base64"`: the vector's little-endian float32 bytes. */
export function float32Base64(values: readonly number[]): string {
  const bytes = new Uint8Array(values.length * 4);
  const view = new DataView(bytes.buffer);
  for (let i = 0; i < values.length; i++) view.setFloat32(i * 4, values[i] ?? 0, true);
  return Buffer.from(bytes).toString("base64");
}

/**
 * A rough token count (about four characters a token) for text a provider gave no count for. Usage built
 * from it must be marked `estimated`, which tells the router to recount with a real tokenizer if it has one.
 */
export function estimateTokens(text: string): number {
  return Math.ceil(text.length / 4);
}

/** The texts of an embeddings request, for providers that embed text only (token-id arrays are refused). */
export function embeddingTexts(input: EmbeddingRequest["input"], provider: string): string[] {
  const items: unknown[] = typeof input === "string" ? [input] : input;
  if (items.every((item): item is string => typeof item === "string")) return items;
  throw invalidField("input", `${provider} embeds text; token-id arrays are not supported, send strings`);
}

/** Vectors in OpenAI's list shape, float or base64 as the client asked. */
export function embeddingList(
  vectors: readonly number[][],
  format: EmbeddingRequest["encoding_format"],
  model: string,
  promptTokens: number,
): EmbeddingList {
  return {
    object: "list",
    data: vectors.map((values, index) => ({
      object: "embedding",
      index,
      embedding: format === "base64" ? float32Base64(values) : values,
    })),
    model,
    usage: { prompt_tokens: promptTokens, total_tokens: promptTokens },
  };
}

/**
 * A client's output limit, never above the model's `max_output_tokens`: admission held the output at most at
 * the cap (`outputAllowance`), so no adapter may ask a provider for more.
 */
export function cappedOutput(asked: number, ctx: Pick<CallContext, "maxOutputTokens">): number {
  return ctx.maxOutputTokens === undefined ? asked : Math.min(asked, ctx.maxOutputTokens);
}

/**
 * Providers count thinking inside the output limit (Anthropic's max_tokens, Gemini's maxOutputTokens), so a
 * thinking budget leaves the answer 20 % of the limit, or `answerCap` when that is less, and never goes below
 * the provider's `floor`.
 */
export function thinkingBudgetWithin(
  maxTokens: number,
  wanted: number,
  limits: { floor: number; answerCap: number },
): number {
  const answerRoom = Math.min(limits.answerCap, Math.ceil(maxTokens * 0.2));
  return Math.max(limits.floor, Math.min(wanted, maxTokens - answerRoom));
}
