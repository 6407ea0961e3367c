import { asString, field } from "../core/json.ts";
import type { RecordedRequest, Reply } from "../core/types.ts";

export function openAIError(
  status: number,
  message: string,
  type: string,
  param: string | null = null,
  code: string | null = null,
): Reply {
  return { kind: "json", status, body: { error: { message, type, param, code } } };
}

/** Azure's own envelope (auth, routing): `{ error: { code, message } }` with the status as a string code. */
export function azureError(status: number, message: string, code = String(status)): Reply {
  return { kind: "json", status, body: { error: { code, message } } };
}

function modelOf(request: RecordedRequest): string {
  return asString(field(request.body, "model")) ?? "unknown";
}

/** The body OpenAI sends for a status, used when a behaviour injects one. */
export function openAIStatusError(status: number, request: RecordedRequest): Reply {
  const model = modelOf(request);
  switch (status) {
    case 400:
      return openAIError(status, "Invalid request.", "invalid_request_error");
    case 401:
      return openAIError(
        status,
        "Incorrect API key provided.",
        "invalid_request_error",
        null,
        "invalid_api_key",
      );
    case 403:
      return openAIError(status, "You are not allowed to sample from this model", "invalid_request_error");
    case 404:
      return openAIError(
        status,
        `The model \`${model}\` does not exist or you do not have access to it.`,
        "invalid_request_error",
        null,
        "model_not_found",
      );
    case 429:
      return openAIError(
        status,
        `Rate limit reached for ${model} on requests per min (RPM): Limit 3, Used 3, Requested 1. Please try again in 20s.`,
        "requests",
        null,
        "rate_limit_exceeded",
      );
    case 503:
      return openAIError(status, "The server is overloaded or not ready yet.", "server_error");
    default:
      return status >= 500
        ? openAIError(
            status,
            "The server had an error while processing your request. Sorry about that!",
            "server_error",
          )
        : openAIError(status, `Request failed with status ${status}.`, "invalid_request_error");
  }
}

/** The in-stream error payload OpenAI sends as a `data:` frame when a stream fails midway. */
export const OPENAI_STREAM_ERROR = {
  error: {
    message: "The server had an error while processing your request. Sorry about that!",
    type: "server_error",
    param: null,
    code: null,
  },
};
