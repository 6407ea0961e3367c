import type { ErrorCode } from "@cloudfreedom/shared";
import type { ChatMessage } from "../openai/requests.ts";
import type { NormalizedUsage, UpstreamFailure } from "./types.ts";

/** The text of an OpenAI message content (string or parts); non-text parts contribute nothing. */
export function textOf(content: ChatMessage["content"] | undefined): string {
  if (content === null || content === undefined) return "";
  if (typeof content === "string") return content;
  let text = "";
  for (const part of content) if (part.type === "text") text += part.text;
  return text;
}

export function makeUsage(
  input: number,
  output: number,
  extra: { cached?: number; reasoning?: number; estimated?: boolean } = {},
): NormalizedUsage {
  return {
    input,
    output,
    cached_input: extra.cached ?? 0,
    reasoning: extra.reasoning ?? 0,
    estimated: extra.estimated ?? false,
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
 * request is the caller's (400, not retried); credentials or a missing upstream model are the operator's
 * (502); rate limits, timeouts and 5xx are worth another attempt or deployment.
 */
export function failureFromStatus(status: number, message: string, headers: Headers, provider: string): UpstreamFailure {
  const after = retryAfterMs(headers);
  const make = (code: ErrorCode, retryable: boolean, text = message): UpstreamFailure => ({
    status,
    code,
    message: text,
    retryable,
    retryAfterMs: after,
  });
  if (status === 400 || status === 413 || status === 422) return make("invalid_request", false, `${provider}: ${message}`);
  if (status === 401 || status === 403) {
    return make("upstream_error", false, `${provider} refused the platform's credentials; the operator must fix the provider key`);
  }
  if (status === 404) return make("upstream_error", false, `${provider}: ${message}`);
  if (status === 429) return make("rate_limited", true, `${provider} is rate limiting: ${message}`);
  if (status === 408 || status === 504) return make("upstream_timeout", true, `${provider} timed out: ${message}`);
  if (status === 409 || status >= 500) return make("upstream_error", true, `${provider} failed (${status}): ${message}`);
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
