import type { Behaviour } from "../core/behaviour.ts";
import { sseData } from "../core/frames.ts";
import { asArray, asNumber, asString, field, stopList } from "../core/json.ts";
import { planOutput, type TextOutput } from "../core/reply.ts";
import { countTokens, splitChunks } from "../core/tokens.ts";
import type { Reply, RouteContext } from "../core/types.ts";
import { OPENAI_STREAM_ERROR } from "./errors.ts";

/** OpenAI's default `max_tokens` for legacy completions. */
export const LEGACY_DEFAULT_MAX_TOKENS = 16;

function prompts(body: unknown): string[] {
  const prompt = field(body, "prompt");
  if (typeof prompt === "string") return [prompt];
  const list = asArray(prompt);
  if (!list) return [""];
  const out: string[] = [];
  for (const item of list) if (typeof item === "string") out.push(item);
  return out.length === 0 ? [""] : out;
}

function textOutput(prompt: string, body: unknown, behaviour: Behaviour): TextOutput {
  const output = planOutput(
    {
      lastText: prompt,
      afterToolResult: false,
      tool: undefined,
      maxTokens: asNumber(field(body, "max_tokens")) ?? LEGACY_DEFAULT_MAX_TOKENS,
      stop: stopList(field(body, "stop")),
      json: false,
    },
    behaviour.toolCall ? { ...behaviour, toolCall: undefined } : behaviour,
  );
  return output.kind === "text"
    ? output
    : { kind: "text", text: "", finish: "stop", stopSequence: null, tokens: 0 };
}

function finish(output: TextOutput): string {
  return output.finish === "length" ? "length" : "stop";
}

/** `POST /v1/completions`: one choice per prompt and `n`, `text_completion` objects, streaming too. */
export function respondCompletion(
  body: unknown,
  behaviour: Behaviour,
  ctx: RouteContext,
  model: string,
): Reply {
  const texts = prompts(body);
  const n = Math.max(1, asNumber(field(body, "n")) ?? 1);
  const outputs: TextOutput[] = [];
  let promptTokens = 0;
  let completionTokens = 0;
  for (const prompt of texts) {
    promptTokens += countTokens(prompt);
    const output = textOutput(prompt, body, behaviour);
    for (let j = 0; j < n; j++) {
      outputs.push(output);
      completionTokens += output.tokens;
    }
  }
  const usage = {
    prompt_tokens: promptTokens,
    completion_tokens: completionTokens,
    total_tokens: promptTokens + completionTokens,
  };
  const id = `cmpl-emu${ctx.nextSequence().toString(36).padStart(8, "0")}`;
  const created = Math.floor(Date.now() / 1000);
  if (field(body, "stream") !== true) {
    const choices = outputs.map((output, index) => ({
      text: output.text,
      index,
      logprobs: null,
      finish_reason: finish(output),
    }));
    const response: Record<string, unknown> = { id, object: "text_completion", created, model, choices };
    if (!behaviour.omitUsage) response.usage = usage;
    return { kind: "json", status: 200, body: response };
  }
  const withUsage = field(field(body, "stream_options"), "include_usage") === true;
  const frame = (choices: unknown[], usageValue?: unknown): string => {
    const chunk: Record<string, unknown> = { id, object: "text_completion", created, model, choices };
    if (withUsage) chunk.usage = usageValue ?? null;
    return sseData(chunk);
  };
  const frames: string[] = [];
  outputs.forEach((output, index) => {
    for (const text of splitChunks(output.text)) {
      frames.push(frame([{ text, index, logprobs: null, finish_reason: null }]));
    }
  });
  outputs.forEach((output, index) => {
    frames.push(frame([{ text: "", index, logprobs: null, finish_reason: finish(output) }]));
  });
  if (withUsage && !behaviour.omitUsage) frames.push(frame([], usage));
  frames.push("data: [DONE]\n\n");
  return {
    kind: "stream",
    contentType: "text/event-stream; charset=utf-8",
    frames,
    errorFrame: sseData(behaviour.body ?? OPENAI_STREAM_ERROR),
  };
}

/** Model named by a legacy completion request. */
export function completionModel(body: unknown): string {
  return asString(field(body, "model")) ?? "";
}
