import { failureFromStatus, isRecord, tryJson } from "../common.ts";
import type { UpstreamFailure } from "../types.ts";
import { GEMINI, type GeminiError } from "./wire.ts";

/**
 * `{"error":{"code","message","status","details"}}` (google.rpc.Status). streamGenerateContent without
 * `alt=sse` wraps it in a one-element array, so that shape is read too.
 */
export function parseGeminiError(body: string): GeminiError | null {
  const parsed = tryJson(body);
  const first: unknown = Array.isArray(parsed) ? parsed[0] : parsed;
  return isRecord(first) && isRecord(first.error) ? (first.error as GeminiError) : null;
}

export function geminiFailure(status: number, body: string, headers: Headers): UpstreamFailure {
  const error = parseGeminiError(body);
  const message = error?.message ?? (body.slice(0, 200) || "no error body");
  return refine(failureFromStatus(status, message, headers, GEMINI), error, headers);
}

/** An `error` event inside a stream: no HTTP status of its own, so the body's code stands in for it. */
export function geminiStreamFailure(error: GeminiError): UpstreamFailure {
  const headers = new Headers();
  const status = typeof error.code === "number" && error.code >= 400 ? error.code : 500;
  return refine(failureFromStatus(status, error.message ?? "unknown error", headers, GEMINI), error, headers);
}

/**
 * Where the body says more than the status. A bad key is a 400 INVALID_ARGUMENT with reason API_KEY_INVALID
 * (the operator's problem, not the caller's); RESOURCE_EXHAUSTED is a rate limit and UNAVAILABLE an overload,
 * both worth another attempt; FAILED_PRECONDITION (e.g. the API is not offered in the server's region) is the
 * deployment's: another deployment may serve. A 429 says when to come back in a RetryInfo detail rather than
 * a Retry-After header.
 */
function refine(failure: UpstreamFailure, error: GeminiError | null, headers: Headers): UpstreamFailure {
  if (!error) return failure;
  let refined = failure;
  if (detailOf(error, "google.rpc.ErrorInfo")?.reason === "API_KEY_INVALID") {
    refined = { ...failureFromStatus(401, failure.message, headers, GEMINI), status: failure.status };
  } else if (error.status === "RESOURCE_EXHAUSTED") {
    refined = { ...failure, code: "rate_limited", retryable: true };
  } else if (error.status === "UNAVAILABLE") {
    refined = { ...failure, code: "upstream_error", retryable: true };
  } else if (error.status === "FAILED_PRECONDITION") {
    refined = { ...failure, code: "upstream_error", retryable: false, fallback: true };
  }
  if (refined.retryAfterMs === null) refined = { ...refined, retryAfterMs: retryDelayMs(error) };
  return refined;
}

function detailOf(error: GeminiError, type: string): Record<string, unknown> | undefined {
  if (!Array.isArray(error.details)) return undefined;
  return error.details.find((detail) => isRecord(detail) && String(detail["@type"]).endsWith(`/${type}`));
}

/** RetryInfo's `retryDelay` is a protobuf Duration in JSON: seconds with an `s` suffix ("41s", "0.5s"). */
function retryDelayMs(error: GeminiError): number | null {
  const delay = detailOf(error, "google.rpc.RetryInfo")?.retryDelay;
  if (typeof delay !== "string" || !/^\d+(\.\d+)?s$/.test(delay)) return null;
  return Math.round(Number.parseFloat(delay) * 1000);
}
