import type { Behaviour } from "../core/behaviour.ts";
import { sseEvent } from "../core/frames.ts";
import { asArray, asNumber, asString, field, stopList } from "../core/json.ts";
import { type OfferedTool, type Output, planOutput, type ReplyRequest } from "../core/reply.ts";
import { countTokens, splitChunks } from "../core/tokens.ts";
import type { Reply, RouteContext } from "../core/types.ts";
import { ANTHROPIC_STREAM_ERROR, anthropicRequestId } from "./errors.ts";

interface MessagesRequest {
  model: string;
  stream: boolean;
  promptTokens: number;
  reply: ReplyRequest;
}

/** Text of a content value: the string, or its text blocks and tool_result texts, newline-joined. */
function blocksText(content: unknown, kinds: "text" | "tool_result" | "any"): string {
  if (typeof content === "string") return kinds === "tool_result" ? "" : content;
  const out: string[] = [];
  for (const block of asArray(content) ?? []) {
    const type = field(block, "type");
    if (type === "text" && kinds !== "tool_result") out.push(asString(field(block, "text")) ?? "");
    if (type === "tool_result" && kinds !== "text") {
      const inner = field(block, "content");
      out.push(typeof inner === "string" ? inner : blocksText(inner, "text"));
    }
  }
  return out.join("\n");
}

function offeredTool(body: unknown): OfferedTool | undefined {
  const tools = asArray(field(body, "tools")) ?? [];
  const choice = field(body, "tool_choice");
  if (tools.length === 0 || field(choice, "type") === "none") return undefined;
  const wanted = field(choice, "type") === "tool" ? asString(field(choice, "name")) : undefined;
  for (const tool of tools) {
    const name = asString(field(tool, "name"));
    if (name !== undefined && (wanted === undefined || wanted === name)) {
      return { name, parameters: field(tool, "input_schema") };
    }
  }
  return undefined;
}

export function parseMessagesRequest(body: unknown): MessagesRequest {
  const messages = asArray(field(body, "messages")) ?? [];
  let promptTokens = countTokens(blocksText(field(body, "system"), "text"));
  let lastUser = "";
  let afterToolResult = false;
  for (const message of messages) {
    const content = field(message, "content");
    const text = blocksText(content, "any");
    promptTokens += countTokens(text);
    if (field(message, "role") === "user") {
      const results = blocksText(content, "tool_result");
      afterToolResult = (asArray(content) ?? []).some((block) => field(block, "type") === "tool_result");
      lastUser = afterToolResult ? results : text;
    } else afterToolResult = false;
  }
  return {
    model: asString(field(body, "model")) ?? "",
    stream: field(body, "stream") === true,
    promptTokens,
    reply: {
      lastText: lastUser,
      afterToolResult,
      tool: offeredTool(body),
      maxTokens: asNumber(field(body, "max_tokens")),
      stop: stopList(field(body, "stop_sequences")),
      json: false,
    },
  };
}

function stopReason(output: Output): string {
  if (output.kind === "tool") return "tool_use";
  if (output.finish === "length") return "max_tokens";
  return output.finish === "stop_sequence" ? "stop_sequence" : "end_turn";
}

function usage(promptTokens: number, behaviour: Behaviour, outputTokens: number) {
  const cached = behaviour.cachedTokens ?? 0;
  const created = behaviour.cacheCreationTokens ?? 0;
  const oneHour = behaviour.cacheCreation1hTokens;
  return {
    input_tokens: Math.max(0, promptTokens - cached - created),
    cache_creation_input_tokens: created,
    cache_read_input_tokens: cached,
    ...(oneHour === undefined
      ? {}
      : {
          cache_creation: {
            ephemeral_5m_input_tokens: Math.max(0, created - oneHour),
            ephemeral_1h_input_tokens: oneHour,
          },
        }),
    output_tokens: outputTokens,
  };
}

function contentBlock(output: Output, toolId: string) {
  return output.kind === "text"
    ? { type: "text", text: output.text }
    : { type: "tool_use", id: toolId, name: output.name, input: output.arguments };
}

function isEmptyObject(json: string): boolean {
  return /^\s*\{\s*\}\s*$/.test(json);
}

function streamFrames(
  request: MessagesRequest,
  output: Output,
  behaviour: Behaviour,
  id: string,
  toolId: string,
) {
  const outputTokens = output.tokens + (behaviour.reasoningTokens ?? 0);
  const message: Record<string, unknown> = {
    id,
    type: "message",
    role: "assistant",
    model: request.model,
    content: [],
    stop_reason: null,
    stop_sequence: null,
  };
  if (!behaviour.omitUsage) message.usage = usage(request.promptTokens, behaviour, 1);
  const frames = [sseEvent("message_start", { type: "message_start", message })];
  const start =
    output.kind === "text"
      ? { type: "text", text: "" }
      : { type: "tool_use", id: toolId, name: output.name, input: {} };
  frames.push(
    sseEvent("content_block_start", { type: "content_block_start", index: 0, content_block: start }),
  );
  frames.push(sseEvent("ping", { type: "ping" }));
  // A tool input opens with an empty partial_json; an empty input is only that (no `{}` follows).
  const pieces =
    output.kind === "text"
      ? splitChunks(output.text)
      : ["", ...(isEmptyObject(output.argumentsJson) ? [] : splitChunks(output.argumentsJson))];
  for (const piece of pieces) {
    const delta =
      output.kind === "text"
        ? { type: "text_delta", text: piece }
        : { type: "input_json_delta", partial_json: piece };
    frames.push(sseEvent("content_block_delta", { type: "content_block_delta", index: 0, delta }));
  }
  frames.push(sseEvent("content_block_stop", { type: "content_block_stop", index: 0 }));
  const stopSequence = output.kind === "text" ? output.stopSequence : null;
  const messageDelta: Record<string, unknown> = {
    type: "message_delta",
    delta: { stop_reason: stopReason(output), stop_sequence: stopSequence },
  };
  if (!behaviour.omitUsage) messageDelta.usage = { output_tokens: outputTokens };
  frames.push(sseEvent("message_delta", messageDelta));
  frames.push(sseEvent("message_stop", { type: "message_stop" }));
  return frames;
}

export function respondMessages(body: unknown, behaviour: Behaviour, ctx: RouteContext): Reply {
  const request = parseMessagesRequest(body);
  const output = planOutput(request.reply, behaviour);
  const sequence = ctx.nextSequence().toString(36).padStart(20, "0");
  const id = `msg_emu${sequence}`;
  const toolId = `toolu_emu${sequence}`;
  const headers = { "request-id": anthropicRequestId() };
  if (request.stream) {
    return {
      kind: "stream",
      contentType: "text/event-stream; charset=utf-8",
      frames: streamFrames(request, output, behaviour, id, toolId),
      errorFrame: sseEvent("error", behaviour.body ?? ANTHROPIC_STREAM_ERROR),
      headers,
    };
  }
  const response: Record<string, unknown> = {
    id,
    type: "message",
    role: "assistant",
    model: request.model,
    content: [contentBlock(output, toolId)],
    stop_reason: stopReason(output),
    stop_sequence: output.kind === "text" ? output.stopSequence : null,
  };
  if (!behaviour.omitUsage) {
    response.usage = usage(request.promptTokens, behaviour, output.tokens + (behaviour.reasoningTokens ?? 0));
  }
  return { kind: "json", status: 200, body: response, headers };
}

/** `POST /v1/messages/count_tokens`. */
export function respondCountTokens(body: unknown): Reply {
  return { kind: "json", status: 200, body: { input_tokens: parseMessagesRequest(body).promptTokens } };
}
