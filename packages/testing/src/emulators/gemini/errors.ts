import type { Reply } from "../core/types.ts";

const STATUS_NAMES: Record<number, [string, string]> = {
  400: ["INVALID_ARGUMENT", "Request contains an invalid argument."],
  401: ["UNAUTHENTICATED", "Request had invalid authentication credentials."],
  403: ["PERMISSION_DENIED", "The caller does not have permission"],
  404: ["NOT_FOUND", "Requested entity was not found."],
  429: [
    "RESOURCE_EXHAUSTED",
    "You exceeded your current quota, please check your plan and billing details. For more information on this error, head to: https://ai.google.dev/gemini-api/docs/rate-limits.",
  ],
  500: [
    "INTERNAL",
    "An internal error has occurred. Please retry or report in https://developers.generativeai.google/guide/troubleshooting",
  ],
  503: ["UNAVAILABLE", "The model is overloaded. Please try again later."],
  504: ["DEADLINE_EXCEEDED", "Deadline expired before operation could complete."],
};

export function geminiErrorBody(code: number, message: string, status: string, details?: unknown[]) {
  return { error: details ? { code, message, status, details } : { code, message, status } };
}

export function geminiError(code: number, message: string, status: string, details?: unknown[]): Reply {
  return { kind: "json", status: code, body: geminiErrorBody(code, message, status, details) };
}

/** The error Google sends for a status, used when a behaviour injects one. */
export function geminiStatusError(code: number): Reply {
  const known = STATUS_NAMES[code];
  if (known) return geminiError(code, known[1], known[0]);
  return code >= 500
    ? geminiError(code, "Internal error encountered.", "INTERNAL")
    : geminiError(code, "Bad request.", "FAILED_PRECONDITION");
}

export const GEMINI_STREAM_ERROR = geminiErrorBody(
  503,
  "The model is overloaded. Please try again later.",
  "UNAVAILABLE",
);

export const MISSING_KEY = geminiError(
  403,
  "Method doesn't allow unregistered callers (callers without established identity). Please use API Key or other form of API consumer identity to call this API.",
  "PERMISSION_DENIED",
);

export const INVALID_KEY = geminiError(
  400,
  "API key not valid. Please pass a valid API key.",
  "INVALID_ARGUMENT",
  [
    {
      "@type": "type.googleapis.com/google.rpc.ErrorInfo",
      reason: "API_KEY_INVALID",
      domain: "googleapis.com",
      metadata: { service: "generativelanguage.googleapis.com" },
    },
  ],
);
