import { AppError } from "@cloudfreedom/shared";
import { ClientResponseError } from "pocketbase";

/** PocketBase's per-field validation error: `data: { field: { code, message } }`. */
export interface FieldError {
  field: string;
  code: string;
  message: string;
}

export const UNIQUE_VIOLATION = "validation_not_unique";

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** Field errors of a 400 response body (`{ status, message, data }`). */
export function fieldErrors(body: unknown): FieldError[] {
  if (!isObject(body) || !isObject(body.data)) return [];
  const out: FieldError[] = [];
  for (const [field, value] of Object.entries(body.data)) {
    if (!isObject(value) || typeof value.code !== "string") continue;
    out.push({ field, code: value.code, message: typeof value.message === "string" ? value.message : "" });
  }
  return out;
}

/** A failed batch is one 400 naming the index of the first failing request and that request's response. */
export interface BatchFailure {
  index: number;
  status: number;
  body: Record<string, unknown>;
}

export function batchFailure(error: unknown): BatchFailure | null {
  if (!(error instanceof ClientResponseError) || error.status !== 400) return null;
  const requests = isObject(error.response.data) ? error.response.data.requests : undefined;
  if (!isObject(requests)) return null;
  for (const [key, entry] of Object.entries(requests)) {
    const index = Number(key);
    if (!Number.isInteger(index) || !isObject(entry)) continue;
    const response = isObject(entry.response) ? entry.response : {};
    const status = typeof response.status === "number" ? response.status : 400;
    return { index, status, body: response };
  }
  return null;
}

/** True when PocketBase could not be reached at all (refused, reset, DNS, timeout, abort). */
export function isNetworkError(error: unknown): boolean {
  return error instanceof ClientResponseError && error.status === 0;
}

/** Maps one PocketBase error response (status + body) to an AppError. */
export function responseToAppError(status: number, body: Record<string, unknown>, error?: unknown): AppError {
  const message = typeof body.message === "string" && body.message ? body.message : "request failed";
  if (status === 404) return new AppError("not_found", "The record was not found.");
  if (status === 400) {
    const fields = fieldErrors(body);
    const unique = fields.find((f) => f.code === UNIQUE_VIOLATION);
    if (unique) {
      return new AppError("conflict", `${unique.field}: already exists`, { field: unique.field });
    }
    const first = fields[0];
    if (first) {
      return new AppError("validation_failed", `${first.field}: ${first.message || first.code}`, {
        field: first.field,
        reason: first.code,
        fields: fields.map((f) => ({ field: f.field, reason: f.code })),
      });
    }
    return new AppError("validation_failed", message, {});
  }
  if (status === 429 || status >= 500) {
    return withCause(
      new AppError("service_unavailable", "The database is unavailable, try again shortly."),
      error,
    );
  }
  // 401/403 mean our superuser session was refused: an operator problem, not the caller's.
  return withCause(new AppError("internal_error", "The database refused the request."), error);
}

/** Details reach API clients, so the underlying error travels as `cause` (logged, never serialised). */
function withCause(appError: AppError, cause: unknown): AppError {
  if (cause !== undefined) appError.cause = cause;
  return appError;
}

/**
 * Maps anything a PocketBase call throws into an AppError: 404 → not_found, 400 with field data →
 * validation_failed naming the field, a unique index violation → conflict, unreachable → service_unavailable.
 * A failed batch is mapped by the response of the request that failed it, with `batch_index` added.
 */
export function toAppError(error: unknown): AppError {
  if (error instanceof AppError) return error;
  if (!(error instanceof ClientResponseError)) {
    return withCause(new AppError("internal_error", "Unexpected database client error."), error);
  }
  if (error.status === 0) {
    return withCause(
      new AppError("service_unavailable", "The database is unreachable, try again shortly."),
      error,
    );
  }
  const failure = batchFailure(error);
  if (failure) {
    const mapped = responseToAppError(failure.status, failure.body, error);
    return withCause(
      new AppError(mapped.code, mapped.message, { ...mapped.details, batch_index: failure.index }),
      error,
    );
  }
  return responseToAppError(error.status, error.response, error);
}

/** Whether a single-request error is a unique violation, optionally on a given field. */
export function isUniqueViolation(error: unknown, field?: string): boolean {
  if (!(error instanceof ClientResponseError) || error.status !== 400) return false;
  return fieldErrors(error.response).some(
    (f) => f.code === UNIQUE_VIOLATION && (!field || f.field === field),
  );
}
