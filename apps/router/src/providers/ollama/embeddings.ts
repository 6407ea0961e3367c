import { AppError } from "@cloudfreedom/shared";
import type { EmbeddingRequest } from "../../openai/requests.ts";
import type { EmbeddingList } from "../../openai/responses.ts";
import { embeddingList, embeddingTexts, estimateTokens, isRecord, makeUsage } from "../common.ts";
import type { CallContext, EmbeddingsAdapter, NormalizedUsage, UpstreamHttpRequest } from "../types.ts";
import { ollamaEndpoint } from "./request.ts";
import { OLLAMA } from "./wire.ts";

function ollamaEmbeddingsRequest(req: EmbeddingRequest, ctx: CallContext): UpstreamHttpRequest {
  const texts = embeddingTexts(req.input, OLLAMA);
  const body = {
    model: ctx.upstreamModel,
    input: typeof req.input === "string" ? req.input : texts,
    ...(req.dimensions ? { dimensions: req.dimensions } : {}),
  };
  return { ...ollamaEndpoint(ctx, "/api/embed"), body: JSON.stringify(body) };
}

/** `/api/embed` counts the input in `prompt_eval_count`; without it the input is estimated and marked so. */
function ollamaEmbeddingsResponse(
  body: unknown,
  ctx: CallContext,
  req: EmbeddingRequest,
): { list: EmbeddingList; usage: NormalizedUsage } {
  const texts = embeddingTexts(req.input, OLLAMA);
  const embeddings = isRecord(body) && Array.isArray(body.embeddings) ? body.embeddings : [];
  const vectors = embeddings.map((values: unknown) => (Array.isArray(values) ? values.map(Number) : []));
  if (vectors.length !== texts.length || vectors.some((values) => values.length === 0)) {
    throw new AppError(
      "upstream_error",
      `${OLLAMA} returned ${vectors.length} embeddings for ${texts.length} inputs`,
    );
  }
  const counted =
    isRecord(body) && typeof body.prompt_eval_count === "number" ? body.prompt_eval_count : null;
  const tokens = counted ?? texts.reduce((sum, text) => sum + estimateTokens(text), 0);
  const model = isRecord(body) && typeof body.model === "string" ? body.model : ctx.upstreamModel;
  return {
    list: embeddingList(vectors, req.encoding_format, model, tokens),
    usage: makeUsage(tokens, 0, { estimated: counted === null }),
  };
}

export const ollamaEmbeddings: EmbeddingsAdapter = {
  request: ollamaEmbeddingsRequest,
  response: ollamaEmbeddingsResponse,
};
