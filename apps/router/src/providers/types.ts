import type { ErrorCode, ProviderKind, TokenUsage } from "@cloudfreedom/shared";
import type { ChatCompletionRequest, CompletionRequest, EmbeddingRequest } from "../openai/requests.ts";
import type { ChatCompletion, Completion, EmbeddingList } from "../openai/responses.ts";

/** A configured upstream: a row of `providers` (or env bootstrap) with its decrypted credential. */
export interface ProviderTarget {
  name: string;
  kind: ProviderKind;
  baseUrl: string;
  apiKey: string | undefined;
  /** Kind-specific: Azure `apiVersion`, Anthropic `version`, extra headers. */
  options: { apiVersion?: string; headers?: Record<string, string> };
}

export interface CallContext {
  target: ProviderTarget;
  /** The provider's model name (for Azure: the deployment name). */
  upstreamModel: string;
  requestId: string;
  /**
   * The catalog's `max_output_tokens` for the model, when known: what admission held the output at when the
   * client set no limit, so no adapter asks the provider for more.
   */
  maxOutputTokens?: number;
  /**
   * The catalog lists the `reasoning` capability for the model: only then do adapters turn reasoning_effort
   * into a provider's thinking settings (models that cannot think refuse them with a 400).
   */
  reasoning?: boolean;
}

export interface UpstreamHttpRequest {
  url: string;
  headers: Record<string, string>;
  body: string;
}

/** Token usage normalised across providers; `estimated` when we had to count ourselves. */
export interface NormalizedUsage extends TokenUsage {
  estimated: boolean;
}

/** An upstream failure in our vocabulary, and whether another attempt may succeed. */
export interface UpstreamFailure {
  status: number;
  code: ErrorCode;
  message: string;
  /** Transient (timeout, rate limit, overload, 5xx): this deployment may answer later, any other now. */
  retryable: boolean;
  /**
   * Not retryable, but this deployment's own (its credentials, account, region, or a model it lacks): another
   * deployment of the model may answer, this one will not. Otherwise a failure that is not retryable is the
   * request's (invalid, too long, refused by content policy) and would fail everywhere.
   */
  fallback?: boolean;
  retryAfterMs: number | null;
  /** The router's own verdict (unreachable, timed out, broke off): no upstream status to report. */
  local?: boolean;
}

/** Thrown by a stream transform when the provider reports an error inside the stream. */
export class UpstreamStreamError extends Error {
  readonly failure: UpstreamFailure;
  constructor(failure: UpstreamFailure) {
    super(failure.message);
    this.name = "UpstreamStreamError";
    this.failure = failure;
  }
}

export interface StreamOptions {
  /** Chunk id and `created` for transforms that must invent them. */
  id: string;
  created: number;
}

/**
 * One upstream stream's translation into OpenAI `chat.completion.chunk` JSON strings (unframed; the router
 * adds `data: …\n\n`). Keeps its own state; feed it text as it arrives, in any split. It never emits the
 * usage chunk: it reports usage through `usage()`, and the router sends the chunk (with the billed cost).
 */
export interface ChatStreamTransform {
  push(text: string): string[];
  /** The upstream closed; flush what is left. */
  end(): string[];
  /** Usage so far (partial after a failure); `null` when the provider reported none. */
  usage(): NormalizedUsage | null;
  /** The generated text and tool-call arguments so far, for counting tokens when usage is missing. */
  outputText(): string;
}

export interface ChatAdapter {
  request(req: ChatCompletionRequest, ctx: CallContext, stream: boolean): UpstreamHttpRequest;
  response(body: unknown, ctx: CallContext): { completion: ChatCompletion; usage: NormalizedUsage | null };
  stream(ctx: CallContext, options: StreamOptions): ChatStreamTransform;
}

export interface EmbeddingsAdapter {
  request(req: EmbeddingRequest, ctx: CallContext): UpstreamHttpRequest;
  response(
    body: unknown,
    ctx: CallContext,
    req: EmbeddingRequest,
  ): { list: EmbeddingList; usage: NormalizedUsage };
}

export interface CompletionsAdapter {
  request(req: CompletionRequest, ctx: CallContext, stream: boolean): UpstreamHttpRequest;
  response(body: unknown, ctx: CallContext): { completion: Completion; usage: NormalizedUsage | null };
  /** Same contract as chat streams, emitting `text_completion` chunk JSON. */
  stream(ctx: CallContext, options: StreamOptions): ChatStreamTransform;
}

/**
 * A provider kind. Legacy text completions go through `chat` (the router translates) unless the kind
 * serves `/completions` natively (`completions`).
 */
export interface ProviderAdapter {
  kind: ProviderKind;
  chat: ChatAdapter;
  embeddings: EmbeddingsAdapter | null;
  completions?: CompletionsAdapter;
  /** Map a non-2xx upstream answer to our vocabulary. */
  failure(status: number, body: string, headers: Headers): UpstreamFailure;
}

export type AdapterRegistry = { readonly [K in ProviderKind]: ProviderAdapter };
