import type { Behaviour } from "../core/behaviour.ts";
import { sseDataCrlf } from "../core/frames.ts";
import { type Output, planOutput } from "../core/reply.ts";
import { countTokens, splitChunks } from "../core/tokens.ts";
import type { Reply, RouteContext } from "../core/types.ts";
import { GEMINI_STREAM_ERROR } from "./errors.ts";
import type { GenerateRequest } from "./request.ts";

const CATEGORIES = [
  "HARM_CATEGORY_HATE_SPEECH",
  "HARM_CATEGORY_DANGEROUS_CONTENT",
  "HARM_CATEGORY_HARASSMENT",
  "HARM_CATEGORY_SEXUALLY_EXPLICIT",
];
const SAFE_RATINGS = CATEGORIES.map((category) => ({ category, probability: "NEGLIGIBLE" }));
const BLOCKED_RATINGS = CATEGORIES.map((category) =>
  category === "HARM_CATEGORY_HARASSMENT"
    ? { category, probability: "HIGH", blocked: true }
    : { category, probability: "NEGLIGIBLE" },
);

export interface GenerateOptions {
  model: string;
  /** `alt=sse` (SSE frames); otherwise the stream is one JSON array, as Google sends without `alt`. */
  sse: boolean;
}

function usageMetadata(promptTokens: number, candidateTokens: number, behaviour: Behaviour) {
  const thoughts = behaviour.reasoningTokens ?? 0;
  const meta: Record<string, unknown> = {
    promptTokenCount: promptTokens,
    candidatesTokenCount: candidateTokens,
    totalTokenCount: promptTokens + candidateTokens + thoughts,
  };
  if (behaviour.cachedTokens) meta.cachedContentTokenCount = behaviour.cachedTokens;
  meta.promptTokensDetails = [{ modality: "TEXT", tokenCount: promptTokens }];
  if (thoughts) meta.thoughtsTokenCount = thoughts;
  return meta;
}

function part(output: Output, text: string) {
  return output.kind === "text" ? { text } : { functionCall: { name: output.name, args: output.arguments } };
}

/** The chunks of a response: text pieces, or one chunk for a function call (Gemini never splits its args). */
function pieces(output: Output): string[] {
  if (output.kind === "tool") return [""];
  const chunks = splitChunks(output.text);
  return chunks.length === 0 ? [""] : chunks;
}

function envelope(
  body: Record<string, unknown>,
  request: GenerateRequest,
  behaviour: Behaviour,
  used: number,
  o: GenerateOptions,
  id: string,
) {
  if (!behaviour.omitUsage) body.usageMetadata = usageMetadata(request.promptTokens, used, behaviour);
  body.modelVersion = o.model;
  body.responseId = id;
  return body;
}

function blocked(request: GenerateRequest, behaviour: Behaviour, o: GenerateOptions, id: string) {
  const body: Record<string, unknown> =
    behaviour.safetyBlock === "prompt"
      ? { promptFeedback: { blockReason: "SAFETY", safetyRatings: BLOCKED_RATINGS } }
      : { candidates: [{ finishReason: "SAFETY", index: 0, safetyRatings: BLOCKED_RATINGS }] };
  return envelope(body, request, behaviour, 0, o, id);
}

function streamReply(responses: unknown[], behaviour: Behaviour, sse: boolean): Reply {
  const error = behaviour.body ?? GEMINI_STREAM_ERROR;
  if (sse) {
    return {
      kind: "stream",
      contentType: "text/event-stream",
      frames: responses.map(sseDataCrlf),
      errorFrame: sseDataCrlf(error),
    };
  }
  const frames = responses.map((response, i) => `${i === 0 ? "[" : ",\r\n"}${JSON.stringify(response)}`);
  frames.push("]");
  return {
    kind: "stream",
    contentType: "application/json; charset=UTF-8",
    frames,
    errorFrame: `,\r\n${JSON.stringify(error)}]`,
    firstErrorFrame: `[${JSON.stringify(error)}]`,
  };
}

/** `:generateContent` and `:streamGenerateContent`. */
export function respondGenerate(
  request: GenerateRequest,
  behaviour: Behaviour,
  ctx: RouteContext,
  o: GenerateOptions & { stream: boolean },
): Reply {
  const id = `emu${ctx.nextSequence().toString(36).padStart(12, "0")}`;
  if (behaviour.safetyBlock) {
    const body = blocked(request, behaviour, o, id);
    return o.stream ? streamReply([body], behaviour, o.sse) : { kind: "json", status: 200, body };
  }
  const output = planOutput(request.reply, behaviour);
  const finishReason = output.kind === "text" && output.finish === "length" ? "MAX_TOKENS" : "STOP";
  const indices = Array.from({ length: request.candidates }, (_, index) => index);
  if (!o.stream) {
    const candidates = indices.map((index) => ({
      content: { parts: [part(output, output.kind === "text" ? output.text : "")], role: "model" },
      finishReason,
      index,
      safetyRatings: SAFE_RATINGS,
    }));
    const body = envelope({ candidates }, request, behaviour, output.tokens * request.candidates, o, id);
    return { kind: "json", status: 200, body };
  }
  const chunks = pieces(output);
  const responses: unknown[] = [];
  let used = 0;
  chunks.forEach((piece, i) => {
    const last = i === chunks.length - 1;
    used += (output.kind === "text" ? countTokens(piece) : output.tokens) * request.candidates;
    const candidates = indices.map((index) => {
      const candidate: Record<string, unknown> = { content: { parts: [part(output, piece)], role: "model" } };
      if (last) candidate.finishReason = finishReason;
      candidate.index = index;
      return candidate;
    });
    responses.push(envelope({ candidates }, request, behaviour, used, o, id));
  });
  return streamReply(responses, behaviour, o.sse);
}
