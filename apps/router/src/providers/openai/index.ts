import { AppError } from "@cloudfreedom/shared";
import type { ChatCompletion, Completion, EmbeddingList } from "../../openai/responses.ts";
import { failureFromStatus, tryJson } from "../common.ts";
import type { ProviderAdapter } from "../types.ts";
import { chatRequest, completionsRequest, embeddingsRequest } from "./request.ts";
import { OpenAIPassThroughStream } from "./stream.ts";
import { fromOpenAIUsage } from "./usage.ts";

/** Some upstreams (OpenRouter) answer 200 with an error object: that is a provider failure, not a completion. */
function expectChoices<T extends { choices: unknown[] }>(body: unknown, provider: string): T {
  if (typeof body === "object" && body !== null && Array.isArray((body as { choices?: unknown }).choices))
    return body as T;
  const reason = errorMessage(JSON.stringify(body ?? null));
  throw new AppError("upstream_error", `${provider} answered 200 without a completion: ${reason}`);
}

function errorMessage(body: string): string {
  const parsed = tryJson(body) as { error?: { message?: string } | string; message?: string } | undefined;
  if (typeof parsed?.error === "string") return parsed.error;
  return parsed?.error?.message ?? parsed?.message ?? (body.slice(0, 200) || "no error body");
}

function makeOpenAICompatible(kind: "openai" | "azure" | "openrouter", label: string): ProviderAdapter {
  return {
    kind,
    chat: {
      request: chatRequest,
      response: (body, ctx) => {
        const completion = expectChoices<ChatCompletion>(body, ctx.target.name);
        return { completion, usage: fromOpenAIUsage(completion.usage) };
      },
      stream: (ctx) => new OpenAIPassThroughStream(ctx.target.name),
    },
    completions: {
      request: completionsRequest,
      response: (body, ctx) => {
        const completion = expectChoices<Completion>(body, ctx.target.name);
        return { completion, usage: fromOpenAIUsage(completion.usage) };
      },
      stream: (ctx) => new OpenAIPassThroughStream(ctx.target.name),
    },
    embeddings: {
      request: embeddingsRequest,
      response: (body) => {
        const list = body as EmbeddingList;
        // No usage from the upstream: the router counts the input itself (estimated).
        const prompt = list.usage?.prompt_tokens;
        return {
          list,
          usage: {
            input: prompt ?? 0,
            cached_input: 0,
            cache_write: 0,
            cache_write_1h: 0,
            output: 0,
            reasoning: 0,
            estimated: prompt === undefined,
          },
        };
      },
    },
    failure: (status, body, headers) => failureFromStatus(status, errorMessage(body), headers, label),
  };
}

export const openAIAdapter = makeOpenAICompatible("openai", "OpenAI-compatible provider");
export const azureAdapter = makeOpenAICompatible("azure", "Azure OpenAI");
export const openRouterAdapter = makeOpenAICompatible("openrouter", "OpenRouter");
