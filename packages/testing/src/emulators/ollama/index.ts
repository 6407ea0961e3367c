import { embedText } from "../core/embedding.ts";
import { asArray, asNumber, asString, field } from "../core/json.ts";
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
import { respondChat, thinkProblem } from "./chat.ts";

/**
 * Thinking models among them: qwen3 takes think true or false, gpt-oss a level. Any model here thinks when
 * asked; Ollama would refuse think on one that cannot think (400 "… does not support thinking").
 */
export const DEFAULT_OLLAMA_MODELS = [
  "llama3.2:latest",
  "qwen2.5:0.5b",
  "nomic-embed-text:latest",
  "qwen3:8b",
  "gpt-oss:20b",
];

export interface OllamaEmulatorOptions extends EmulatorOptions {
  /** Installed models; others get Ollama's 404. Names without a tag mean `:latest`. */
  models?: string[];
}

function ollamaError(status: number, error: string): Reply {
  return { kind: "json", status, body: { error } };
}

function withTag(name: string): string {
  return name.includes(":") ? name : `${name}:latest`;
}

function tagEntry(name: string, index: number) {
  const family = name.split(/[:.\d]/)[0] || "llama";
  return {
    name,
    model: name,
    modified_at: "2025-01-01T00:00:00Z",
    size: 1_000_000_000 + index,
    digest: `${index.toString(16).padStart(2, "0")}${"0".repeat(62)}`,
    details: {
      parent_model: "",
      format: "gguf",
      family,
      families: [family],
      parameter_size: "3.2B",
      quantization_level: "Q4_K_M",
    },
  };
}

export function ollamaFormat(models: readonly string[], dimensions: number): ProviderFormat {
  const installed = new Set(models.map(withTag));
  const modelCheck = (request: RecordedRequest): Reply | undefined => {
    const model = asString(field(request.body, "model"));
    if (model === undefined || model === "") return ollamaError(400, "model is required");
    return installed.has(withTag(model))
      ? undefined
      : ollamaError(404, `model "${model}" not found, try pulling it first`);
  };
  const modelOf = (request: RecordedRequest): string => asString(field(request.body, "model")) ?? "";
  const routes: Record<string, Route> = {
    "POST /api/chat": {
      check: (request) => {
        const problem = thinkProblem(request.body, modelOf(request));
        return modelCheck(request) ?? (problem === undefined ? undefined : ollamaError(400, problem));
      },
      respond: (request, behaviour) => respondChat(request.body, behaviour, modelOf(request)),
    },
    "POST /api/embed": {
      check: modelCheck,
      respond: (request, behaviour) => {
        const input = field(request.body, "input");
        const texts =
          typeof input === "string" ? [input] : (asArray(input) ?? []).map((item) => String(item));
        const size = asNumber(field(request.body, "dimensions")) ?? dimensions;
        const body: Record<string, unknown> = {
          model: modelOf(request),
          embeddings: texts.map((text) => embedText(text, size)),
          total_duration: 1_000_000,
          load_duration: 500_000,
        };
        if (!behaviour.omitUsage)
          body.prompt_eval_count = texts.reduce((sum, text) => sum + countTokens(text), 0);
        return { kind: "json", status: 200, body };
      },
    },
    "POST /api/embeddings": {
      check: modelCheck,
      respond: (request) => ({
        kind: "json",
        status: 200,
        body: { embedding: embedText(asString(field(request.body, "prompt")) ?? "", dimensions) },
      }),
    },
    "GET /api/tags": {
      respond: () => ({ kind: "json", status: 200, body: { models: [...installed].map(tagEntry) } }),
    },
    "GET /api/version": { respond: () => ({ kind: "json", status: 200, body: { version: "0.9.0" } }) },
    "GET /": {
      respond: () => ({
        kind: "text",
        status: 200,
        body: "Ollama is running",
        contentType: "text/plain; charset=utf-8",
      }),
    },
  };
  return {
    provider: "ollama",
    apiKey: "",
    resolve: (method, path) => routes[`${method} ${path}`],
    notFound: () => ({ kind: "text", status: 404, body: "404 page not found", contentType: "text/plain" }),
    invalidJson: () => ollamaError(400, "invalid character looking for beginning of value"),
    injectedError: (status, request, body) => {
      if (body !== undefined) return { kind: "json", status, body };
      if (status === 404)
        return ollamaError(404, `model "${modelOf(request)}" not found, try pulling it first`);
      if (status === 429 || status === 503)
        return ollamaError(status, "server busy, please try again.  maximum pending requests exceeded");
      return ollamaError(
        status,
        status >= 500 ? "an error was encountered while running the model" : "invalid request",
      );
    },
  };
}

/** Ollama's native API on a free local port (no key). */
export function startOllamaEmulator(options: OllamaEmulatorOptions = {}): Promise<EmulatorHandle> {
  return startEmulatorServer(
    ollamaFormat(options.models ?? DEFAULT_OLLAMA_MODELS, options.embeddingDimensions ?? 64),
    options,
  );
}
