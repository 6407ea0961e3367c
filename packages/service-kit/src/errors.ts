import { AppError, buildErrorEnvelope, type ErrorCode, statusOf } from "@cloudfreedom/shared";
import type { Context } from "hono";
import { HTTPException } from "hono/http-exception";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import { z } from "zod";
import "./context.ts";

/** The value at `path` in `input`, or undefined. */
function valueAt(input: unknown, path: PropertyKey[]): unknown {
  let value = input;
  for (const key of path) {
    if (value === null || typeof value !== "object") return undefined;
    value = (value as Record<PropertyKey, unknown>)[key];
  }
  return value;
}

/**
 * zod's message, said plainly where it is not: a field that is missing is "required" (a coerced number would
 * say "received NaN"), a number that is not one quotes what came, a date-time gives an example.
 */
function issueMessage(issue: z.core.$ZodIssue, input: unknown, hasInput: boolean): string {
  const value = hasInput ? valueAt(input, issue.path) : undefined;
  // Echoed back short: an input may be long, and the message goes into logs.
  const got =
    typeof value === "string" ? `, got "${value.length > 40 ? `${value.slice(0, 40)}…` : value}"` : "";
  if ((issue.code === "invalid_type" || issue.code === "invalid_union") && hasInput && value === undefined)
    return "required";
  if (issue.code === "invalid_type" && issue.expected === "number" && got) return `expected a number${got}`;
  if (issue.code === "invalid_format" && issue.format === "datetime")
    return `expected an ISO 8601 date-time such as 2026-12-01T00:00:00Z${got}`;
  return issue.message;
}

/**
 * A union's failure told by the branch the input's type chose: content that is an array where "a string or
 * an array of parts" was expected fails in its parts, so the issue names the part and what is wrong with it
 * rather than "Invalid input" for the whole union. Paths become absolute.
 */
function expandUnions(issue: z.core.$ZodIssue, prefix: PropertyKey[] = []): z.core.$ZodIssue[] {
  const path = [...prefix, ...issue.path];
  if (issue.code === "invalid_union" && issue.errors.length > 0) {
    const chosen = issue.errors.filter(
      (branch) => !branch.some((inner) => inner.path.length === 0 && inner.code === "invalid_type"),
    );
    if (chosen.length === 1 && chosen[0]) return chosen[0].flatMap((inner) => expandUnions(inner, path));
  }
  return [{ ...issue, path }];
}

/** A zod failure as a `validation_failed` AppError whose message and details name each bad field. */
export function validationError(error: z.ZodError, where = "body", ...input: [unknown?]): AppError {
  const issues = error.issues
    .flatMap((issue) => expandUnions(issue))
    .map((issue) => ({
      field: issue.path.map(String).join(".") || where,
      message: issueMessage(issue, input[0], input.length > 0),
    }));
  const message = issues.map((i) => `${i.field}: ${i.message}`).join("; ");
  return new AppError("validation_failed", `Invalid ${where}: ${message}`, {
    field: issues[0]?.field ?? where,
    issues,
  });
}

const HTTP_EXCEPTION_CODES: Partial<Record<number, ErrorCode>> = {
  400: "invalid_request",
  401: "unauthorized",
  403: "forbidden",
  404: "not_found",
  405: "method_not_allowed",
  413: "payload_too_large",
  415: "unsupported_media_type",
  429: "rate_limited",
};

/** Anything thrown → AppError. Unknown errors become `internal_error` and leak nothing. */
export function toAppError(error: unknown): AppError {
  if (error instanceof AppError) return error;
  if (error instanceof z.ZodError) return validationError(error);
  if (error instanceof HTTPException) {
    const code = HTTP_EXCEPTION_CODES[error.status] ?? "internal_error";
    const message = code === "internal_error" ? "Internal error" : error.message || code.replaceAll("_", " ");
    return new AppError(code, message);
  }
  return new AppError("internal_error", "Internal error; quote the request_id when reporting it");
}

/**
 * The one place an error becomes an HTTP response (DESIGN.md §8). `/v1/*` routes also get the
 * OpenAI-style `error` object so OpenAI SDKs raise the right class with our message.
 */
export function errorResponse(c: Context, error: unknown): Response {
  const appError = toAppError(error);
  const requestId = c.get("requestId") ?? "unknown";
  if (appError.code === "internal_error") {
    c.get("logger")?.error({ err: error, request_id: requestId }, "unhandled error");
  }
  const body = buildErrorEnvelope({
    code: appError.code,
    message: appError.message,
    details: appError.details,
    requestId,
    openAI: c.req.path.startsWith("/v1/"),
  });
  for (const [name, value] of Object.entries(appError.headers)) c.header(name, value);
  return c.json(body, statusOf(appError.code) as ContentfulStatusCode);
}
