import { startEmulatorServer } from "../core/server.ts";
import type {
  EmulatorHandle,
  EmulatorOptions,
  ProviderFormat,
  RecordedRequest,
  Reply,
  Route,
} from "../core/types.ts";
import { respondChat } from "./chat.ts";
import { completionModel, respondCompletion } from "./completions.ts";
import { modelObject, respondEmbeddings, respondModels } from "./embeddings.ts";
import { azureError, openAIError, openAIStatusError } from "./errors.ts";
import { chatRequestProblem, parseChatRequest } from "./request.ts";

export const DEFAULT_OPENAI_KEY = "sk-emulator-openai";
export const DEFAULT_OPENAI_MODELS = [
  "gpt-4o-mini",
  "gpt-4o",
  "gpt-3.5-turbo-instruct",
  "text-embedding-3-small",
];

export interface OpenAIEmulatorOptions extends EmulatorOptions {
  /** Models listed by `GET /v1/models` (any model name is accepted for generation). */
  models?: string[];
}

const AZURE_PREFIX = "/openai/deployments/";
const NO_KEY_MESSAGE =
  "You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY), or as the password field (with blank username) if you're accessing the API from your browser and are prompted for a username and password. You can obtain an API key from https://platform.openai.com/account/api-keys.";
const AZURE_DENIED =
  "Access denied due to invalid subscription key or wrong API endpoint. Make sure to provide a valid key for an active subscription and use a correct regional API endpoint for your resource.";
const INVALID_JSON =
  "We could not parse the JSON body of your request. (HINT: This likely means you aren't using your HTTP library correctly. The OpenAI API expects a JSON payload, but what was sent was not valid JSON. If you have trouble figuring out how to fix this, please contact us through our help center at help.openai.com.)";

function redact(key: string): string {
  return key.length > 8 ? `${key.slice(0, 3)}${"*".repeat(key.length - 7)}${key.slice(-4)}` : "***";
}

/** `/openai/deployments/{deployment}/{operation}` → deployment and operation. */
function azureTarget(path: string): { deployment: string; operation: string } | undefined {
  const rest = path.slice(AZURE_PREFIX.length);
  const slash = rest.indexOf("/");
  if (slash <= 0) return undefined;
  return { deployment: rest.slice(0, slash), operation: rest.slice(slash + 1) };
}

/** Azure names the model in the path, so only OpenAI requires `model` in the body. */
function chatCheck(request: RecordedRequest, requireModel: boolean): Reply | undefined {
  const problem = chatRequestProblem(request.body, requireModel);
  return problem ? openAIError(400, problem[0], "invalid_request_error", problem[1], problem[2]) : undefined;
}

export function openAIFormat(apiKey: string, models: readonly string[], dimensions: number): ProviderFormat {
  const bearer = `Bearer ${apiKey}`;
  const authorize = (request: RecordedRequest): Reply | undefined => {
    const header = request.headers.authorization;
    if (header === bearer) return undefined;
    if (header === undefined || header === "" || header === "Bearer") {
      return openAIError(401, NO_KEY_MESSAGE, "invalid_request_error");
    }
    const presented = header.startsWith("Bearer ") ? header.slice(7) : header;
    return openAIError(
      401,
      `Incorrect API key provided: ${redact(presented)}. You can find your API key at https://platform.openai.com/account/api-keys.`,
      "invalid_request_error",
      null,
      "invalid_api_key",
    );
  };
  const authorizeAzure = (request: RecordedRequest): Reply | undefined => {
    if (!request.query["api-version"]) return azureError(404, "Resource not found");
    return request.headers["api-key"] === apiKey ? undefined : azureError(401, AZURE_DENIED);
  };
  const deploymentOf = (request: RecordedRequest): string => azureTarget(request.path)?.deployment ?? "";

  const routes: Record<string, Route> = {
    "POST /v1/chat/completions": {
      check: (request) => authorize(request) ?? chatCheck(request, true),
      respond: (request, behaviour, ctx) => {
        const chat = parseChatRequest(request.body);
        return respondChat(chat, behaviour, ctx, { azure: false, model: chat.model });
      },
    },
    "POST /v1/completions": {
      check: authorize,
      respond: (request, behaviour, ctx) =>
        respondCompletion(request.body, behaviour, ctx, completionModel(request.body)),
    },
    "POST /v1/embeddings": {
      check: authorize,
      respond: (request, behaviour) =>
        respondEmbeddings(request.body, behaviour, completionModel(request.body), dimensions),
    },
    "GET /v1/models": { check: authorize, respond: () => respondModels(models) },
    "POST azure chat/completions": {
      check: (request) => authorizeAzure(request) ?? chatCheck(request, false),
      respond: (request, behaviour, ctx) =>
        respondChat(parseChatRequest(request.body), behaviour, ctx, {
          azure: true,
          model: deploymentOf(request),
        }),
    },
    "POST azure completions": {
      check: authorizeAzure,
      respond: (request, behaviour, ctx) =>
        respondCompletion(request.body, behaviour, ctx, deploymentOf(request)),
    },
    "POST azure embeddings": {
      check: authorizeAzure,
      respond: (request, behaviour) =>
        respondEmbeddings(request.body, behaviour, deploymentOf(request), dimensions),
    },
  };
  const modelRoute: Route = {
    check: authorize,
    respond: (request) => {
      const id = request.path.slice("/v1/models/".length);
      return models.includes(id)
        ? { kind: "json", status: 200, body: modelObject(id) }
        : openAIError(
            404,
            `The model '${id}' does not exist`,
            "invalid_request_error",
            "model",
            "model_not_found",
          );
    },
  };

  return {
    provider: "openai",
    apiKey,
    resolve(method, path) {
      if (path.startsWith(AZURE_PREFIX)) {
        const target = azureTarget(path);
        return target ? routes[`${method} azure ${target.operation}`] : undefined;
      }
      if (method === "GET" && path.startsWith("/v1/models/")) return modelRoute;
      return routes[`${method} ${path}`];
    },
    notFound: (request) =>
      request.path.startsWith("/openai/")
        ? azureError(404, "Resource not found")
        : openAIError(404, `Invalid URL (${request.method} ${request.path})`, "invalid_request_error"),
    invalidJson: () => openAIError(400, INVALID_JSON, "invalid_request_error"),
    injectedError: (status, request, body) => {
      if (body !== undefined) return { kind: "json", status, body };
      if (!request.path.startsWith("/openai/")) return openAIStatusError(status, request);
      const message =
        status === 429
          ? "Requests to the ChatCompletions_Create Operation under Azure OpenAI API version 2024-10-21 have exceeded token rate limit of your current OpenAI S0 pricing tier. Please retry after 1 second."
          : `The server responded with status ${status}.`;
      return azureError(status, message);
    },
  };
}

/** OpenAI (and Azure OpenAI deployment paths) on a free local port. SDK `baseURL`: `${url}/v1`. */
export function startOpenAIEmulator(options: OpenAIEmulatorOptions = {}): Promise<EmulatorHandle> {
  const format = openAIFormat(
    options.apiKey ?? DEFAULT_OPENAI_KEY,
    options.models ?? DEFAULT_OPENAI_MODELS,
    options.embeddingDimensions ?? 64,
  );
  return startEmulatorServer(format, options);
}
