import type { Behaviour } from "../core/behaviour.ts";
import { sseDataCrlf } from "../core/frames.ts";
import { type Output, planOutput } from "../core/reply.ts";
import { countTokens, splitChunks, truncateTokens } from "../core/tokens.ts";
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

/** What the model thought: a thought summary (sent only with includeThoughts) and the tokens it used. */
interface Thoughts {
  summary: string | null;
  tokens: number;
}

/**
 * A request whose thinkingConfig asks for thinking thinks a fixed sentence about the prompt, cut to the
 * budget; `reasoningTokens` adds to it (or, without thinking, stands for a model thinking by default).
 */
function thoughtsOf(request: GenerateRequest, behaviour: Behaviour): Thoughts {
  const extra = behaviour.reasoningTokens ?? 0;
  if (!request.thinking) return { summary: null, tokens: extra };
  const thought = `Let me think about this request: ${request.reply.lastText}`;
  const { budget, includeThoughts } = request.thinking;
  const text = budget === undefined ? thought : truncateTokens(thought, budget).text;
  return { summary: includeThoughts ? text : null, tokens: countTokens(text) + extra };
}

function usageMetadata(
  promptTokens: number,
  candidateTokens: number,
  thoughts: number,
  behaviour: Behaviour,
) {
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
  if (!behaviour.omitUsage)
    body.usageMetadata = usageMetadata(
      request.promptTokens,
      used,
      thoughtsOf(request, behaviour).tokens,
      behaviour,
    );
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
  const { summary } = thoughtsOf(request, behaviour);
  const thoughtParts = summary === null ? [] : [{ text: summary, thought: true }];
  if (!o.stream) {
    const candidates = indices.map((index) => ({
      content: {
        parts: [...thoughtParts, part(output, output.kind === "text" ? output.text : "")],
        role: "model",
      },
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
    // Thought summaries arrive before the answer, in the first chunk.
    const parts = i === 0 ? [...thoughtParts, part(output, piece)] : [part(output, piece)];
    const candidates = indices.map((index) => {
      const candidate: Record<string, unknown> = { content: { parts, role: "model" } };
      if (last) candidate.finishReason = finishReason;
      candidate.index = index;
      return candidate;
    });
    responses.push(envelope({ candidates }, request, behaviour, used, o, id));
  });
  return streamReply(responses, behaviour, o.sse);
}
