import { failureFromStatus, isRecord, tryJson } from "../common.ts";
import type { UpstreamFailure } from "../types.ts";
import { ANTHROPIC } from "./wire.ts";

/** The HTTP status Anthropic documents for each `error.type`; a stream's `error` event carries only the type. */
const STATUS_BY_ERROR_TYPE: Readonly<Record<string, number>> = {
  invalid_request_error: 400,
  authentication_error: 401,
  billing_error: 402,
  permission_error: 403,
  not_found_error: 404,
  request_too_large: 413,
  rate_limit_error: 429,
  api_error: 500,
  timeout_error: 504,
  overloaded_error: 529,
};

/**
 * Where the error type says more than the status. `overloaded_error` is capacity shared by all customers
 * (529, not our rate limit) and clears within seconds; `billing_error` and `permission_error` are the
 * operator's account, so no attempt on this deployment will succeed, but another deployment may.
 */
const BY_ERROR_TYPE: Readonly<Record<string, Pick<UpstreamFailure, "code" | "retryable" | "fallback">>> = {
  overloaded_error: { code: "upstream_error", retryable: true },
  rate_limit_error: { code: "rate_limited", retryable: true },
  timeout_error: { code: "upstream_timeout", retryable: true },
  billing_error: { code: "upstream_error", retryable: false, fallback: true },
  permission_error: { code: "upstream_error", retryable: false, fallback: true },
};

interface AnthropicError {
  type: string;
  message: string;
  /** `error.details.error_code`, e.g. `enforced_spend_limit_reached` on a 429. */
  detail: string | null;
}

/** `{"type":"error","error":{"type":…,"message":…},"request_id":…}`, or null when the body is not that. */
export function parseAnthropicError(body: unknown): AnthropicError | null {
  const parsed = typeof body === "string" ? tryJson(body) : body;
  if (!isRecord(parsed) || !isRecord(parsed.error)) return null;
  const { type, message, details } = parsed.error;
  if (typeof type !== "string") return null;
  const detail = isRecord(details) && typeof details.error_code === "string" ? details.error_code : null;
  return { type, message: typeof message === "string" ? message : type, detail };
}

/**
 * An account without prepaid credit is refused with a 400 `invalid_request_error` ("Your credit balance is
 * too low to access the Anthropic API…"), not a `billing_error`: it is the operator's account, not the request.
 */
// Anchored: a message that merely quotes the words (a prompt echoed back) must not send the call elsewhere.
const CREDIT_TOO_LOW = /^your credit balance is too low/i;

function refine(failure: UpstreamFailure, error: AnthropicError | null): UpstreamFailure {
  if (!error) return failure;
  if (error.type === "invalid_request_error" && CREDIT_TOO_LOW.test(error.message)) {
    const message = `${ANTHROPIC}: the provider account has no credit left; the operator must add credit`;
    return { ...failure, code: "upstream_error", retryable: false, fallback: true, message };
  }
  if (error.detail === "enforced_spend_limit_reached") {
    // Same type as a rate limit, but it lasts until the next billing month: retrying cannot help.
    const message = `${ANTHROPIC}: the provider account reached its spend limit; the operator must raise it`;
    return { ...failure, code: "upstream_error", retryable: false, fallback: true, message };
  }
  const override = BY_ERROR_TYPE[error.type];
  return override ? { ...failure, ...override } : failure;
}

/** A non-2xx answer from the Messages API. Non-JSON bodies (a proxy's HTML page) fall back to the status. */
export function anthropicFailure(status: number, body: string, headers: Headers): UpstreamFailure {
  const error = parseAnthropicError(body);
  const message = error?.message ?? (body.trim().slice(0, 200) || `HTTP ${status}`);
  return refine(failureFromStatus(status, message, headers, ANTHROPIC), error);
}

/** An `error` event inside a 200 stream, mapped as if it had been the status its type stands for. */
export function streamFailure(data: unknown): UpstreamFailure {
  const error = parseAnthropicError(data) ?? {
    type: "api_error",
    message: "malformed error event",
    detail: null,
  };
  const status = STATUS_BY_ERROR_TYPE[error.type] ?? 500;
  return refine(failureFromStatus(status, error.message, new Headers(), ANTHROPIC), error);
}

/** The stream itself broke (cut before the end, or not SSE JSON): worth another attempt. */
export function brokenStream(message: string): UpstreamFailure {
  return {
    status: 502,
    code: "upstream_error",
    message: `${ANTHROPIC}: ${message}`,
    retryable: true,
    retryAfterMs: null,
  };
}
