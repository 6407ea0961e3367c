import { AppError } from "@cloudfreedom/shared";
import type { EmbeddingRequest } from "../../openai/requests.ts";
import type { EmbeddingList } from "../../openai/responses.ts";
import {
  embeddingList,
  embeddingTexts,
  estimateTokens,
  invalidField,
  isRecord,
  makeUsage,
} from "../common.ts";
import type { CallContext, EmbeddingsAdapter, NormalizedUsage, UpstreamHttpRequest } from "../types.ts";
import { geminiEndpoint } from "./request.ts";
import { GEMINI } from "./wire.ts";

/** batchEmbedContents answers 400 "at most 100 requests can be in one batch" above this. */
const MAX_BATCH = 100;

function geminiEmbeddingsRequest(req: EmbeddingRequest, ctx: CallContext): UpstreamHttpRequest {
  const texts = embeddingTexts(req.input, GEMINI);
  if (texts.length > MAX_BATCH)
    throw invalidField("input", `${GEMINI} embeds at most ${MAX_BATCH} texts per request`);
  const model = `models/${ctx.upstreamModel.replace(/^models\//, "")}`;
  const requests = texts.map((text) => ({
    model,
    content: { parts: [{ text }] },
    ...(req.dimensions ? { outputDimensionality: req.dimensions } : {}),
  }));
  return { ...geminiEndpoint(ctx, "batchEmbedContents"), body: JSON.stringify({ requests }) };
}

/**
 * batchEmbedContents reports no token counts, so the input is estimated from the texts sent and marked
 * `estimated` (the router may recount with a real tokenizer).
 */
function geminiEmbeddingsResponse(
  body: unknown,
  ctx: CallContext,
  req: EmbeddingRequest,
): { list: EmbeddingList; usage: NormalizedUsage } {
  const texts = embeddingTexts(req.input, GEMINI);
  const embeddings = isRecord(body) && Array.isArray(body.embeddings) ? body.embeddings : [];
  const vectors = embeddings.map((embedding: unknown) =>
    isRecord(embedding) && Array.isArray(embedding.values) ? embedding.values.map(Number) : [],
  );
  if (vectors.length !== texts.length || vectors.some((values) => values.length === 0)) {
    throw new AppError(
      "upstream_error",
      `${GEMINI} returned ${vectors.length} embeddings for ${texts.length} inputs`,
    );
  }
  const tokens = texts.reduce((sum, text) => sum + estimateTokens(text), 0);
  return {
    list: embeddingList(vectors, req.encoding_format, ctx.upstreamModel, tokens),
    usage: makeUsage(tokens, 0, { estimated: true }),
  };
}

export const geminiEmbeddings: EmbeddingsAdapter = {
  request: geminiEmbeddingsRequest,
  response: geminiEmbeddingsResponse,
};
