import type { ChatCompletionRequest, CompletionRequest, EmbeddingRequest } from "../../openai/requests.ts";
import type { CallContext, UpstreamHttpRequest } from "../types.ts";

const DEFAULT_AZURE_API_VERSION = "2024-10-21";
type Endpoint = "chat/completions" | "completions" | "embeddings";

/**
 * OpenAI and every OpenAI-compatible base URL (OpenRouter, vLLM, Groq, LM Studio: base URL ends in `/v1`)
 * take a bearer key; Azure addresses a deployment and takes `api-key` with an `api-version`.
 */
export function openAIEndpoint(ctx: CallContext, endpoint: Endpoint): { url: string; headers: Record<string, string> } {
  const { target } = ctx;
  const base = target.baseUrl.replace(/\/+$/, "");
  const headers: Record<string, string> = { "content-type": "application/json", ...target.options.headers };
  if (target.kind === "azure") {
    if (target.apiKey) headers["api-key"] = target.apiKey;
    const version = encodeURIComponent(target.options.apiVersion ?? DEFAULT_AZURE_API_VERSION);
    const deployment = encodeURIComponent(ctx.upstreamModel);
    return { url: `${base}/openai/deployments/${deployment}/${endpoint}?api-version=${version}`, headers };
  }
  if (target.apiKey) headers.authorization = `Bearer ${target.apiKey}`;
  return { url: `${base}/${endpoint}`, headers };
}

/** Pass-through with the upstream model name; streams always ask for usage (stripped later if unwanted). */
function body(req: ChatCompletionRequest | CompletionRequest, ctx: CallContext, stream: boolean): string {
  const out: Record<string, unknown> = { ...req, model: ctx.upstreamModel, stream };
  if (stream) out.stream_options = { ...req.stream_options, include_usage: true };
  else delete out.stream_options;
  return JSON.stringify(out);
}

export function chatRequest(req: ChatCompletionRequest, ctx: CallContext, stream: boolean): UpstreamHttpRequest {
  return { ...openAIEndpoint(ctx, "chat/completions"), body: body(req, ctx, stream) };
}

export function completionsRequest(req: CompletionRequest, ctx: CallContext, stream: boolean): UpstreamHttpRequest {
  return { ...openAIEndpoint(ctx, "completions"), body: body(req, ctx, stream) };
}

export function embeddingsRequest(req: EmbeddingRequest, ctx: CallContext): UpstreamHttpRequest {
  return { ...openAIEndpoint(ctx, "embeddings"), body: JSON.stringify({ ...req, model: ctx.upstreamModel }) };
}
