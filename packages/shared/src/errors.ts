import { z } from "zod";

/**
 * The closed union of error codes (DESIGN.md §8). Each code maps to exactly one HTTP status here;
 * transports look the status up, they never choose one themselves.
 */
export const ERROR_STATUS = {
  validation_failed: 400,
  invalid_json: 400,
  invalid_request: 400,
  unauthorized: 401,
  invalid_api_key: 401,
  token_expired: 401,
  invalid_credentials: 401,
  payment_required: 402,
  budget_exceeded: 402,
  forbidden: 403,
  model_access_restricted: 403,
  not_found: 404,
  model_not_found: 404,
  method_not_allowed: 405,
  conflict: 409,
  payload_too_large: 413,
  unsupported_media_type: 415,
  rate_limited: 429,
  query_limit_exceeded: 429,
  too_many_attempts: 429,
  internal_error: 500,
  upstream_error: 502,
  admission_unavailable: 503,
  service_unavailable: 503,
  upstream_timeout: 504,
} as const satisfies Record<string, number>;

export type ErrorCode = keyof typeof ERROR_STATUS;
export const ErrorCode = z.enum(Object.keys(ERROR_STATUS) as [ErrorCode, ...ErrorCode[]]);
export type ErrorStatus = (typeof ERROR_STATUS)[ErrorCode];

export function statusOf(code: ErrorCode): ErrorStatus {
  return ERROR_STATUS[code];
}

/** The OpenAI-style `error` object added on `/v1/*` routes so OpenAI SDKs surface the message. */
export const OpenAIErrorObject = z.object({
  message: z.string(),
  type: z.string(),
  code: z.string().nullable(),
  param: z.string().nullable(),
});
export type OpenAIErrorObject = z.infer<typeof OpenAIErrorObject>;

export const ErrorEnvelope = z.object({
  status: z.literal("error"),
  code: ErrorCode,
  message: z.string(),
  details: z.record(z.string(), z.unknown()),
  timestamp: z.string(),
  request_id: z.string(),
  error: OpenAIErrorObject.optional(),
});
export type ErrorEnvelope = z.infer<typeof ErrorEnvelope>;

/** A domain error: code from the closed union, a message a user can act on, optional details. */
export class AppError extends Error {
  readonly code: ErrorCode;
  readonly details: Record<string, unknown>;
  readonly headers: Record<string, string>;

  constructor(
    code: ErrorCode,
    message: string,
    details: Record<string, unknown> = {},
    headers: Record<string, string> = {},
  ) {
    super(message);
    this.name = "AppError";
    this.code = code;
    this.details = details;
    this.headers = headers;
  }

  get status(): ErrorStatus {
    return statusOf(this.code);
  }
}

export function isAppError(value: unknown): value is AppError {
  return value instanceof AppError;
}

/** OpenAI's `error.type` vocabulary, so SDKs classify our errors the way they classify OpenAI's. */
export function openAIErrorType(code: ErrorCode): string {
  const status = statusOf(code);
  if (code === "rate_limited" || code === "query_limit_exceeded" || code === "too_many_attempts") {
    return "rate_limit_error";
  }
  if (code === "budget_exceeded" || code === "payment_required") return "insufficient_quota";
  if (status === 401) return "authentication_error";
  if (status === 403) return "permission_error";
  if (status === 404) return "not_found_error";
  if (status >= 500) return "api_error";
  return "invalid_request_error";
}

export interface EnvelopeInput {
  code: ErrorCode;
  message: string;
  details?: Record<string, unknown>;
  requestId: string;
  openAI?: boolean;
  now?: Date;
}

export function buildErrorEnvelope(input: EnvelopeInput): ErrorEnvelope {
  const details = input.details ?? {};
  const envelope: ErrorEnvelope = {
    status: "error",
    code: input.code,
    message: input.message,
    details,
    timestamp: (input.now ?? new Date()).toISOString(),
    request_id: input.requestId,
  };
  if (input.openAI) {
    const param = typeof details.field === "string" ? details.field : null;
    envelope.error = { message: input.message, type: openAIErrorType(input.code), code: input.code, param };
  }
  return envelope;
}
