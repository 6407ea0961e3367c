import type { Reply } from "../core/types.ts";

const ERROR_TYPES: Record<number, [string, string]> = {
  400: ["invalid_request_error", "Invalid request"],
  401: ["authentication_error", "invalid x-api-key"],
  402: ["billing_error", "Your credit balance is too low to access the Anthropic API."],
  403: ["permission_error", "Your API key does not have permission to use the specified resource."],
  404: ["not_found_error", "Not found"],
  413: ["request_too_large", "Request exceeds the maximum allowed number of bytes."],
  429: ["rate_limit_error", "Number of request tokens has exceeded your per-minute rate limit."],
  500: ["api_error", "Internal server error"],
  504: ["timeout_error", "Request timed out"],
  529: ["overloaded_error", "Overloaded"],
};

let requestCounter = 0;

export function anthropicRequestId(): string {
  requestCounter++;
  return `req_emu${requestCounter.toString(36).padStart(10, "0")}`;
}

/** `{ type: "error", error: { type, message }, request_id }` with the matching `request-id` header. */
export function anthropicError(status: number, type: string, message: string): Reply {
  const requestId = anthropicRequestId();
  return {
    kind: "json",
    status,
    body: { type: "error", error: { type, message }, request_id: requestId },
    headers: { "request-id": requestId },
  };
}

/** The error Anthropic sends for a status, used when a behaviour injects one. */
export function anthropicStatusError(status: number): Reply {
  const known = ERROR_TYPES[status];
  if (known) return anthropicError(status, known[0], known[1]);
  return status >= 500
    ? anthropicError(status, "api_error", "Internal server error")
    : anthropicError(status, "invalid_request_error", `Request failed with status ${status}`);
}

/** The in-stream error event payload. */
export const ANTHROPIC_STREAM_ERROR = {
  type: "error",
  error: { type: "overloaded_error", message: "Overloaded" },
};
