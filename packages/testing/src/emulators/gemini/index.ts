import type { Behaviour } from "../core/behaviour.ts";
import { embedText } from "../core/embedding.ts";
import { asArray, asNumber, asString, field, isRecord } from "../core/json.ts";
import { startEmulatorServer } from "../core/server.ts";
import { countTokens } from "../core/tokens.ts";
import type {
  EmulatorHandle,
  EmulatorOptions,
  ProviderFormat,
  RecordedRequest,
  Reply,
  Route,
} from "../core/types.ts";
import { geminiError, geminiStatusError, INVALID_KEY, MISSING_KEY } from "./errors.ts";
import { respondGenerate } from "./generate.ts";
import { generateProblem, parseGenerateRequest, thinkingProblem } from "./request.ts";

export const DEFAULT_GEMINI_KEY = "AIza-emulator-gemini";
export const DEFAULT_GEMINI_MODELS = ["gemini-2.5-flash", "gemini-2.0-flash", "text-embedding-004"];

export interface GeminiEmulatorOptions extends EmulatorOptions {
  /** Models listed by `GET /v1beta/models` (any model name is accepted). */
  models?: string[];
}

/** `/v1beta/models/{model}:{method}` (or `/v1/…`) → model and method. */
function target(path: string): { model: string; method: string } | undefined {
  const prefix = path.startsWith("/v1beta/models/") ? 15 : path.startsWith("/v1/models/") ? 11 : -1;
  if (prefix === -1) return undefined;
  const rest = path.slice(prefix);
  const colon = rest.lastIndexOf(":");
  return colon <= 0 ? undefined : { model: rest.slice(0, colon), method: rest.slice(colon + 1) };
}

function modelOf(request: RecordedRequest): string {
  return target(request.path)?.model ?? "";
}

function contentText(content: unknown): string {
  const texts: string[] = [];
  for (const part of asArray(field(content, "parts")) ?? []) {
    const text = asString(field(part, "text"));
    if (text !== undefined) texts.push(text);
  }
  return texts.join("\n");
}

function embedding(request: unknown, dimensions: number): { values: number[] } | undefined {
  const content = field(request, "content");
  if (!isRecord(content)) return undefined;
  return {
    values: embedText(contentText(content), asNumber(field(request, "outputDimensionality")) ?? dimensions),
  };
}

export function geminiFormat(apiKey: string, models: readonly string[], dimensions: number): ProviderFormat {
  const authorize = (request: RecordedRequest): Reply | undefined => {
    const header = request.headers["x-goog-api-key"];
    const key = (Array.isArray(header) ? header[0] : header) ?? request.query.key;
    if (key === undefined || key === "") return MISSING_KEY;
    return key === apiKey ? undefined : INVALID_KEY;
  };
  const generate = (stream: boolean): Route => ({
    check: (request) => {
      const problem = generateProblem(request.body) ?? thinkingProblem(request.body, modelOf(request));
      return authorize(request) ?? (problem ? geminiError(400, problem, "INVALID_ARGUMENT") : undefined);
    },
    respond: (request, behaviour: Behaviour, ctx) =>
      respondGenerate(parseGenerateRequest(request.body), behaviour, ctx, {
        model: modelOf(request),
        sse: request.query.alt === "sse",
        stream,
      }),
  });
  const routes: Record<string, Route> = {
    generateContent: generate(false),
    streamGenerateContent: generate(true),
    embedContent: {
      check: authorize,
      respond: (request) => {
        const result = embedding(request.body, dimensions);
        return result
          ? { kind: "json", status: 200, body: { embedding: result } }
          : geminiError(400, "* EmbedContentRequest.content: content is not specified\n", "INVALID_ARGUMENT");
      },
    },
    batchEmbedContents: {
      check: authorize,
      respond: (request) => {
        const embeddings = [];
        for (const item of asArray(field(request.body, "requests")) ?? []) {
          const result = embedding(item, dimensions);
          if (!result)
            return geminiError(
              400,
              "* BatchEmbedContentsRequest.requests[0].content: content is not specified\n",
              "INVALID_ARGUMENT",
            );
          embeddings.push(result);
        }
        return { kind: "json", status: 200, body: { embeddings } };
      },
    },
    countTokens: {
      check: authorize,
      respond: (request) => {
        let total = 0;
        for (const content of asArray(field(request.body, "contents")) ?? [])
          total += countTokens(contentText(content));
        return { kind: "json", status: 200, body: { totalTokens: total } };
      },
    },
  };
  const listModels: Route = {
    check: authorize,
    respond: () => {
      const list = models.map((id) => ({
        name: `models/${id}`,
        displayName: id,
        supportedGenerationMethods: ["generateContent"],
      }));
      return { kind: "json", status: 200, body: { models: list } };
    },
  };
  return {
    provider: "gemini",
    apiKey,
    resolve(method, path) {
      if (method === "GET" && (path === "/v1beta/models" || path === "/v1/models")) return listModels;
      const found = method === "POST" ? target(path) : undefined;
      return found ? routes[found.method] : undefined;
    },
    notFound: (request) =>
      geminiError(404, `Method not found or not supported: ${request.method} ${request.path}`, "NOT_FOUND"),
    invalidJson: () =>
      geminiError(400, "Invalid JSON payload received. Unexpected token.", "INVALID_ARGUMENT"),
    injectedError: (status, _request, body) =>
      body === undefined ? geminiStatusError(status) : { kind: "json", status, body },
  };
}

/** Gemini API (generativelanguage v1beta) on a free local port. Base URL: `url` (paths carry `/v1beta`). */
export function startGeminiEmulator(options: GeminiEmulatorOptions = {}): Promise<EmulatorHandle> {
  const format = geminiFormat(
    options.apiKey ?? DEFAULT_GEMINI_KEY,
    options.models ?? DEFAULT_GEMINI_MODELS,
    options.embeddingDimensions ?? 64,
  );
  return startEmulatorServer(format, options);
}
