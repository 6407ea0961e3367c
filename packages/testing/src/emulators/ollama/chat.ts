import type { Behaviour } from "../core/behaviour.ts";
import { ndjsonLine } from "../core/frames.ts";
import { asArray, asNumber, asString, field, isRecord, stopList } from "../core/json.ts";
import { type OfferedTool, type Output, planOutput, type ReplyRequest } from "../core/reply.ts";
import { countTokens, splitChunks } from "../core/tokens.ts";
import type { Reply } from "../core/types.ts";

/** Ollama's error line when generation fails midway. */
export const OLLAMA_STREAM_ERROR = {
  error: "an error was encountered while running the model: unexpected EOF",
};

/** Deterministic timings (nanoseconds): load 1 ms, 0.1 ms per prompt token, 1 ms per output token. */
function stats(promptTokens: number, outputTokens: number, behaviour: Behaviour) {
  const load = 1_000_000;
  const promptDuration = promptTokens * 100_000;
  const evalDuration = outputTokens * 1_000_000;
  const total = load + promptDuration + evalDuration;
  if (behaviour.omitUsage) return { total_duration: total, load_duration: load };
  return {
    total_duration: total,
    load_duration: load,
    prompt_eval_count: promptTokens,
    prompt_eval_duration: promptDuration,
    eval_count: outputTokens,
    eval_duration: evalDuration,
  };
}

function offeredTool(body: unknown): OfferedTool | undefined {
  for (const tool of asArray(field(body, "tools")) ?? []) {
    const fn = field(tool, "function");
    const name = asString(field(fn, "name"));
    if (name !== undefined) return { name, parameters: field(fn, "parameters") };
  }
  return undefined;
}

/** Ollama parses gpt-oss as harmony, the one format whose thinking takes a level; here the name decides. */
function takesLevels(model: string): boolean {
  return model
    .slice(model.lastIndexOf("/") + 1)
    .toLowerCase()
    .startsWith("gpt-oss");
}

/**
 * Ollama's 400 for a level (`think: "low"`) sent to a model that takes only true or false, as Ollama answered
 * until early 2026 (later versions read any level as true there).
 */
export function thinkProblem(body: unknown, model: string): string | undefined {
  const think = field(body, "think");
  if (typeof think !== "string" || takesLevels(model)) return undefined;
  return `think value "${think}" is not supported for this model`;
}

/** With `think` true or a level the model thinks a fixed sentence about the prompt, before the answer. */
function thinkingOf(body: unknown, lastText: string): string | null {
  const think = field(body, "think");
  if (think !== true && typeof think !== "string") return null;
  return `Let me think about this request: ${lastText}`;
}

export function parseChat(body: unknown): { promptTokens: number; reply: ReplyRequest } {
  const messages = asArray(field(body, "messages")) ?? [];
  let promptTokens = 0;
  let lastUser = "";
  for (const message of messages) {
    const text = asString(field(message, "content")) ?? "";
    promptTokens += countTokens(text);
    if (field(message, "role") === "user") lastUser = text;
  }
  const last = messages[messages.length - 1];
  const afterToolResult = field(last, "role") === "tool";
  const options = field(body, "options");
  const format = field(body, "format");
  return {
    promptTokens,
    reply: {
      lastText: afterToolResult ? (asString(field(last, "content")) ?? "") : lastUser,
      afterToolResult,
      tool: offeredTool(body),
      maxTokens: asNumber(field(options, "num_predict")),
      stop: stopList(field(options, "stop")),
      json: format === "json" || isRecord(format),
    },
  };
}

function assistantMessage(output: Output, text: string, thinking: string | null = null) {
  const thought = thinking ? { thinking } : {};
  if (output.kind === "text") return { role: "assistant", content: text, ...thought };
  return {
    role: "assistant",
    content: "",
    ...thought,
    tool_calls: [{ function: { name: output.name, arguments: output.arguments } }],
  };
}

/**
 * `POST /api/chat`: NDJSON lines by default, one object with `stream: false`. Thinking comes in
 * `message.thinking`, streamed in lines of its own before the answer's, and counts in `eval_count`.
 */
export function respondChat(body: unknown, behaviour: Behaviour, model: string): Reply {
  const request = parseChat(body);
  const output = planOutput(request.reply, behaviour);
  const thinking = thinkingOf(body, request.reply.lastText);
  const thoughtTokens = thinking === null ? 0 : countTokens(thinking);
  const createdAt = new Date().toISOString();
  const doneReason = output.kind === "text" && output.finish === "length" ? "length" : "stop";
  const final = {
    model,
    created_at: createdAt,
    message: assistantMessage(output, output.kind === "text" ? output.text : "", thinking),
    done_reason: doneReason,
    done: true,
    ...stats(request.promptTokens, output.tokens + thoughtTokens, behaviour),
  };
  if (field(body, "stream") === false) return { kind: "json", status: 200, body: final };
  const frames: string[] = [];
  for (const piece of thinking === null ? [] : splitChunks(thinking)) {
    const message = { role: "assistant", content: "", thinking: piece };
    frames.push(ndjsonLine({ model, created_at: createdAt, message, done: false }));
  }
  const pieces = output.kind === "text" ? splitChunks(output.text) : [""];
  for (const piece of pieces) {
    frames.push(
      ndjsonLine({ model, created_at: createdAt, message: assistantMessage(output, piece), done: false }),
    );
  }
  final.message = { role: "assistant", content: "" };
  frames.push(ndjsonLine(final));
  return {
    kind: "stream",
    contentType: "application/x-ndjson",
    frames,
    errorFrame: ndjsonLine(behaviour.body ?? OLLAMA_STREAM_ERROR),
  };
}
