import type { Behaviour } from "../core/behaviour.ts";
import { sseData } from "../core/frames.ts";
import { type Output, planOutput } from "../core/reply.ts";
import { splitChunks } from "../core/tokens.ts";
import type { Reply, RouteContext } from "../core/types.ts";
import { OPENAI_STREAM_ERROR } from "./errors.ts";
import type { ChatRequest } from "./request.ts";

export const SYSTEM_FINGERPRINT = "fp_emulator";
const SAFE = { filtered: false, severity: "safe" };
const FILTER_RESULTS = { hate: SAFE, self_harm: SAFE, sexual: SAFE, violence: SAFE };
const PROMPT_FILTER_RESULTS = [{ prompt_index: 0, content_filter_results: FILTER_RESULTS }];

export interface ChatOptions {
  /** Azure's additions: `prompt_filter_results` (a first stream frame with no choices) and per-choice results. */
  azure: boolean;
  /** The model named in the response (Azure: the deployment). */
  model: string;
}

export function chatUsage(promptTokens: number, outputTokens: number, behaviour: Behaviour) {
  const reasoning = behaviour.reasoningTokens ?? 0;
  const completion = outputTokens + reasoning;
  return {
    prompt_tokens: promptTokens,
    completion_tokens: completion,
    total_tokens: promptTokens + completion,
    prompt_tokens_details: { cached_tokens: behaviour.cachedTokens ?? 0, audio_tokens: 0 },
    completion_tokens_details: {
      reasoning_tokens: reasoning,
      audio_tokens: 0,
      accepted_prediction_tokens: 0,
      rejected_prediction_tokens: 0,
    },
  };
}

function finishReason(output: Output, namedTool: boolean): string {
  if (output.kind === "tool") return namedTool ? "stop" : "tool_calls";
  return output.finish === "length" ? "length" : "stop";
}

function toolCallId(id: string, choice: number): string {
  return `call_${id.slice(9)}${choice}`;
}

function message(output: Output, id: string, choice: number) {
  if (output.kind === "text") {
    return { role: "assistant", content: output.text, refusal: null, annotations: [] };
  }
  const call = { name: output.name, arguments: output.argumentsJson };
  return {
    role: "assistant",
    content: null,
    tool_calls: [{ id: toolCallId(id, choice), type: "function", function: call }],
    refusal: null,
    annotations: [],
  };
}

function completion(
  request: ChatRequest,
  output: Output,
  behaviour: Behaviour,
  id: string,
  opts: ChatOptions,
) {
  const finish = finishReason(output, request.namedTool);
  const choices = [];
  for (let index = 0; index < request.choices; index++) {
    const choice = { index, message: message(output, id, index), logprobs: null, finish_reason: finish };
    choices.push(opts.azure ? { ...choice, content_filter_results: FILTER_RESULTS } : choice);
  }
  const body: Record<string, unknown> = {
    id,
    object: "chat.completion",
    created: Math.floor(Date.now() / 1000),
    model: opts.model,
    choices,
  };
  if (!behaviour.omitUsage)
    body.usage = chatUsage(request.promptTokens, output.tokens * request.choices, behaviour);
  body.service_tier = "default";
  body.system_fingerprint = SYSTEM_FINGERPRINT;
  if (opts.azure) body.prompt_filter_results = PROMPT_FILTER_RESULTS;
  return body;
}

/** Per-choice deltas in OpenAI's order: role (+ tool call header), content pieces, then the finish. */
function choiceDeltas(output: Output, id: string, choice: number): unknown[] {
  if (output.kind === "text") {
    const deltas: unknown[] = [{ role: "assistant", content: "", refusal: null }];
    for (const piece of splitChunks(output.text)) deltas.push({ content: piece });
    return deltas;
  }
  const header = {
    index: 0,
    id: toolCallId(id, choice),
    type: "function",
    function: { name: output.name, arguments: "" },
  };
  const deltas: unknown[] = [{ role: "assistant", content: null, tool_calls: [header], refusal: null }];
  for (const piece of splitChunks(output.argumentsJson)) {
    deltas.push({ tool_calls: [{ index: 0, function: { arguments: piece } }] });
  }
  return deltas;
}

function streamFrames(
  request: ChatRequest,
  output: Output,
  behaviour: Behaviour,
  id: string,
  opts: ChatOptions,
) {
  const created = Math.floor(Date.now() / 1000);
  const withUsage = request.includeUsage;
  const frame = (choices: unknown[], usage?: unknown): string => {
    const chunk: Record<string, unknown> = {
      id,
      object: "chat.completion.chunk",
      created,
      model: opts.model,
      service_tier: "default",
      system_fingerprint: SYSTEM_FINGERPRINT,
      choices,
    };
    if (withUsage) chunk.usage = usage ?? null;
    return sseData(chunk);
  };
  const frames: string[] = [];
  if (opts.azure) {
    frames.push(
      sseData({
        choices: [],
        created: 0,
        id: "",
        model: "",
        object: "",
        prompt_filter_results: PROMPT_FILTER_RESULTS,
      }),
    );
  }
  const perChoice: unknown[][] = [];
  for (let choice = 0; choice < request.choices; choice++) perChoice.push(choiceDeltas(output, id, choice));
  const steps = perChoice[0]?.length ?? 0;
  for (let step = 0; step < steps; step++) {
    for (let choice = 0; choice < request.choices; choice++) {
      const delta = perChoice[choice]?.[step];
      frames.push(frame([{ index: choice, delta, logprobs: null, finish_reason: null }]));
    }
  }
  const finish = finishReason(output, request.namedTool);
  for (let choice = 0; choice < request.choices; choice++) {
    frames.push(frame([{ index: choice, delta: {}, logprobs: null, finish_reason: finish }]));
  }
  if (withUsage && !behaviour.omitUsage) {
    frames.push(frame([], chatUsage(request.promptTokens, output.tokens * request.choices, behaviour)));
  }
  frames.push("data: [DONE]\n\n");
  return frames;
}

export function respondChat(
  request: ChatRequest,
  behaviour: Behaviour,
  ctx: RouteContext,
  opts: ChatOptions,
): Reply {
  const output = planOutput(request.reply, behaviour);
  const id = `chatcmpl-emu${ctx.nextSequence().toString(36).padStart(8, "0")}`;
  if (!request.stream)
    return { kind: "json", status: 200, body: completion(request, output, behaviour, id, opts) };
  return {
    kind: "stream",
    contentType: "text/event-stream; charset=utf-8",
    frames: streamFrames(request, output, behaviour, id, opts),
    errorFrame: sseData(behaviour.body ?? OPENAI_STREAM_ERROR),
  };
}
