import { withoutCacheControl } from "../../openai/cache-control.ts";
import type { ChatCompletionRequest, CompletionRequest, EmbeddingRequest } from "../../openai/requests.ts";
import { cappedOutput } from "../common.ts";
import type { CallContext, UpstreamHttpRequest } from "../types.ts";

const DEFAULT_AZURE_API_VERSION = "2024-10-21";
type Endpoint = "chat/completions" | "completions" | "embeddings";

/**
 * OpenAI and every OpenAI-compatible base URL (OpenRouter, vLLM, Groq, LM Studio: base URL ends in `/v1`)
 * take a bearer key; Azure addresses a deployment and takes `api-key` with an `api-version`.
 */
export function openAIEndpoint(
  ctx: CallContext,
  endpoint: Endpoint,
): { url: string; headers: Record<string, string> } {
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

/**
 * What is forwarded to OpenAI-compatible upstreams: the parameters the router validates and meters, as data.
 * Anything else a client sent stays here (see REFUSED_PARAMETERS for the ones refused outright).
 */
const FORWARDED = {
  chat: [
    "messages",
    "max_tokens",
    "max_completion_tokens",
    "temperature",
    "top_p",
    "n",
    "stop",
    "seed",
    "user",
    "tools",
    "tool_choice",
    "parallel_tool_calls",
    "response_format",
    "presence_penalty",
    "frequency_penalty",
    "logit_bias",
    "logprobs",
    "top_logprobs",
    "reasoning_effort",
  ],
  completions: [
    "prompt",
    "max_tokens",
    "temperature",
    "top_p",
    "n",
    "stop",
    "seed",
    "user",
    "suffix",
    "echo",
    "presence_penalty",
    "frequency_penalty",
    "logit_bias",
    "logprobs",
    "best_of",
  ],
  embeddings: ["input", "encoding_format", "dimensions", "user"],
} as const;

function pick(req: Record<string, unknown>, fields: readonly string[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const field of fields) if (req[field] !== undefined) out[field] = req[field];
  return out;
}

/** Output limits a client may set; none may exceed what admission held (the model's max_output_tokens). */
const OUTPUT_LIMITS = ["max_tokens", "max_completion_tokens"] as const;

/**
 * The upstream's model name; streams always ask for usage (stripped later if the client did not). A client's
 * output limit above the model's cap is lowered to it: admission held the output at most at the cap.
 */
function body(
  req: Record<string, unknown>,
  fields: readonly string[],
  ctx: CallContext,
  stream: boolean,
): string {
  const out = pick(req, fields);
  out.model = ctx.upstreamModel;
  for (const limit of OUTPUT_LIMITS) {
    const asked = out[limit];
    if (typeof asked === "number") out[limit] = cappedOutput(asked, ctx);
  }
  if (stream) {
    out.stream = true;
    out.stream_options = { include_usage: true };
  }
  return JSON.stringify(out);
}

/**
 * Anthropic-style `cache_control` breakpoints are taken off messages, parts and tools. OpenAI and Azure cache
 * prompts on their own and document no such field, which their validation may refuse. OpenRouter does take
 * it for Anthropic models, but bills the cache writes in usage fields this adapter does not read
 * (`fromOpenAIUsage` sees reads only): forwarded, the writes would be charged to the platform at a premium
 * and settled as plain input.
 */
export function chatRequest(
  req: ChatCompletionRequest,
  ctx: CallContext,
  stream: boolean,
): UpstreamHttpRequest {
  const bare = withoutCacheControl(req);
  return { ...openAIEndpoint(ctx, "chat/completions"), body: body(bare, FORWARDED.chat, ctx, stream) };
}

export function completionsRequest(
  req: CompletionRequest,
  ctx: CallContext,
  stream: boolean,
): UpstreamHttpRequest {
  return { ...openAIEndpoint(ctx, "completions"), body: body(req, FORWARDED.completions, ctx, stream) };
}

export function embeddingsRequest(req: EmbeddingRequest, ctx: CallContext): UpstreamHttpRequest {
  return { ...openAIEndpoint(ctx, "embeddings"), body: body(req, FORWARDED.embeddings, ctx, false) };
}
