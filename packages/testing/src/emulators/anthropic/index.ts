import { startEmulatorServer } from "../core/server.ts";
import type {
  EmulatorHandle,
  EmulatorOptions,
  ProviderFormat,
  RecordedRequest,
  Reply,
  Route,
} from "../core/types.ts";
import type { PromptCache } from "./cache.ts";
import { anthropicError, anthropicStatusError } from "./errors.ts";
import { respondCountTokens, respondMessages } from "./messages.ts";
import { messagesProblem } from "./validate.ts";

export const DEFAULT_ANTHROPIC_KEY = "sk-ant-emulator";
export const DEFAULT_ANTHROPIC_MODELS = ["claude-sonnet-4-5", "claude-haiku-4-5"];

export interface AnthropicEmulatorOptions extends EmulatorOptions {
  /** Models listed by `GET /v1/models` (any model name is accepted for generation). */
  models?: string[];
}

function headerValue(request: RecordedRequest, name: string): string | undefined {
  const value = request.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

export function anthropicFormat(apiKey: string, models: readonly string[]): ProviderFormat {
  const promptCache: PromptCache = new Set();
  const authorize = (request: RecordedRequest): Reply | undefined => {
    const key = headerValue(request, "x-api-key");
    if (key === undefined || key === "")
      return anthropicError(401, "authentication_error", "x-api-key header is required");
    if (key !== apiKey) return anthropicError(401, "authentication_error", "invalid x-api-key");
    if (!headerValue(request, "anthropic-version")) {
      return anthropicError(400, "invalid_request_error", "anthropic-version: header is required");
    }
    return undefined;
  };
  const validate = (request: RecordedRequest): Reply | undefined => {
    const denied = authorize(request);
    if (denied) return denied;
    const problem = messagesProblem(request.body);
    return problem ? anthropicError(400, "invalid_request_error", problem) : undefined;
  };
  const routes: Record<string, Route> = {
    "POST /v1/messages": {
      check: validate,
      respond: (request, behaviour, ctx) => respondMessages(request.body, behaviour, ctx, promptCache),
    },
    "POST /v1/messages/count_tokens": {
      check: authorize,
      respond: (request) => respondCountTokens(request.body),
    },
    "GET /v1/models": {
      check: authorize,
      respond: () => {
        const data = models.map((id) => ({
          type: "model",
          id,
          display_name: id,
          created_at: "2025-01-01T00:00:00Z",
        }));
        const body = {
          data,
          has_more: false,
          first_id: models[0] ?? null,
          last_id: models[models.length - 1] ?? null,
        };
        return { kind: "json", status: 200, body };
      },
    },
  };
  return {
    provider: "anthropic",
    apiKey,
    resolve: (method, path) => routes[`${method} ${path}`],
    notFound: () => anthropicError(404, "not_found_error", "Not Found"),
    invalidJson: () =>
      anthropicError(400, "invalid_request_error", "There was an error parsing the body: invalid JSON"),
    injectedError: (status, _request, body) =>
      body === undefined ? anthropicStatusError(status) : { kind: "json", status, body },
    reset: () => promptCache.clear(),
  };
}

/** Anthropic Messages API on a free local port. SDK `baseURL`: `url`. */
export function startAnthropicEmulator(options: AnthropicEmulatorOptions = {}): Promise<EmulatorHandle> {
  const format = anthropicFormat(
    options.apiKey ?? DEFAULT_ANTHROPIC_KEY,
    options.models ?? DEFAULT_ANTHROPIC_MODELS,
  );
  return startEmulatorServer(format, options);
}
