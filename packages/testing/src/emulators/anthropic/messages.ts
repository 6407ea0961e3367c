import type { Behaviour } from "../core/behaviour.ts";
import { sseEvent } from "../core/frames.ts";
import { asArray, asNumber, asString, field, stopList } from "../core/json.ts";
import { type OfferedTool, type Output, planOutput, type ReplyRequest } from "../core/reply.ts";
import { countTokens, splitChunks, truncateTokens } from "../core/tokens.ts";
import type { Reply, RouteContext } from "../core/types.ts";
import { type CacheUsage, type PromptCache, promptCacheUsage } from "./cache.ts";
import { ANTHROPIC_STREAM_ERROR, anthropicRequestId } from "./errors.ts";

interface MessagesRequest {
  model: string;
  stream: boolean;
  promptTokens: number;
  reply: ReplyRequest;
  /** `thinking.budget_tokens` when the request enables extended thinking (validation checked it). */
  thinkingBudget: number | undefined;
}

/** What the model thought before answering: text, its signature, and the tokens it used. */
interface Thinking {
  text: string;
  signature: string;
  tokens: number;
  /** The encrypted `data` of a redacted_thinking block after it, when the behaviour asks for one. */
  redacted: string | null;
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
  const thinking = field(body, "thinking");
  return {
    model: asString(field(body, "model")) ?? "",
    stream: field(body, "stream") === true,
    thinkingBudget:
      field(thinking, "type") === "enabled" ? asNumber(field(thinking, "budget_tokens")) : undefined,
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

/**
 * Cache reads, writes and 1-hour writes: those a behaviour sets win over those the request's breakpoints
 * produce; the split is reported for breakpoints as the API does, for a behaviour only when it sets one.
 */
function cacheCounters(promptTokens: number, behaviour: Behaviour, cache: CacheUsage | undefined) {
  const explicit =
    behaviour.cachedTokens !== undefined ||
    behaviour.cacheCreationTokens !== undefined ||
    behaviour.cacheCreation1hTokens !== undefined;
  if (explicit || !cache) {
    return {
      cached: behaviour.cachedTokens ?? 0,
      created: behaviour.cacheCreationTokens ?? 0,
      oneHour: behaviour.cacheCreation1hTokens,
    };
  }
  const cached = Math.min(cache.read, promptTokens);
  const created = Math.min(cache.written, promptTokens - cached);
  return { cached, created, oneHour: Math.min(cache.written1h, created) };
}

function usage(promptTokens: number, behaviour: Behaviour, outputTokens: number, cache?: CacheUsage) {
  const { cached, created, oneHour } = cacheCounters(promptTokens, behaviour, cache);
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

/**
 * The thinking of a request with thinking enabled: a fixed sentence about the prompt, cut to the budget,
 * and a signature; its tokens count as output and come out of max_tokens, as Anthropic's do.
 */
function think(request: MessagesRequest, behaviour: Behaviour, id: string): Thinking | null {
  if (request.thinkingBudget === undefined) return null;
  const thought = `Let me think about this request: ${request.reply.lastText}`;
  const text = truncateTokens(thought, request.thinkingBudget).text;
  return {
    text,
    signature: Buffer.from(`emulator-thinking-signature:${id}`).toString("base64"),
    tokens: countTokens(text) + (behaviour.reasoningTokens ?? 0),
    redacted: behaviour.redactedThinking ? Buffer.from(`emulator-redacted:${id}`).toString("base64") : null,
  };
}

function thinkingBlocks(thinking: Thinking | null): Array<Record<string, unknown>> {
  if (!thinking) return [];
  const blocks: Array<Record<string, unknown>> = [
    { type: "thinking", thinking: thinking.text, signature: thinking.signature },
  ];
  if (thinking.redacted !== null) blocks.push({ type: "redacted_thinking", data: thinking.redacted });
  return blocks;
}

/** The answer, with max_tokens less what thinking used. */
function answer(request: MessagesRequest, behaviour: Behaviour, thinking: Thinking | null): Output {
  const reply = request.reply;
  if (!thinking || reply.maxTokens === undefined) return planOutput(reply, behaviour);
  return planOutput({ ...reply, maxTokens: Math.max(0, reply.maxTokens - thinking.tokens) }, behaviour);
}

/** Stream frames of the thinking blocks, from content-block index 0. */
function thinkingFrames(thinking: Thinking | null): string[] {
  if (!thinking) return [];
  const start = { type: "thinking", thinking: "", signature: "" };
  const frames = [
    sseEvent("content_block_start", { type: "content_block_start", index: 0, content_block: start }),
  ];
  for (const piece of splitChunks(thinking.text)) {
    const delta = { type: "thinking_delta", thinking: piece };
    frames.push(sseEvent("content_block_delta", { type: "content_block_delta", index: 0, delta }));
  }
  const signature = { type: "signature_delta", signature: thinking.signature };
  frames.push(sseEvent("content_block_delta", { type: "content_block_delta", index: 0, delta: signature }));
  frames.push(sseEvent("content_block_stop", { type: "content_block_stop", index: 0 }));
  if (thinking.redacted !== null) {
    const block = { type: "redacted_thinking", data: thinking.redacted };
    frames.push(
      sseEvent("content_block_start", { type: "content_block_start", index: 1, content_block: block }),
    );
    frames.push(sseEvent("content_block_stop", { type: "content_block_stop", index: 1 }));
  }
  return frames;
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
  thinking: Thinking | null,
  id: string,
  toolId: string,
  cache?: CacheUsage,
) {
  const outputTokens = output.tokens + (thinking ? thinking.tokens : (behaviour.reasoningTokens ?? 0));
  const message: Record<string, unknown> = {
    id,
    type: "message",
    role: "assistant",
    model: request.model,
    content: [],
    stop_reason: null,
    stop_sequence: null,
  };
  if (!behaviour.omitUsage) message.usage = usage(request.promptTokens, behaviour, 1, cache);
  const frames = [sseEvent("message_start", { type: "message_start", message })];
  const before = thinkingFrames(thinking);
  const index = thinkingBlocks(thinking).length;
  const start =
    output.kind === "text"
      ? { type: "text", text: "" }
      : { type: "tool_use", id: toolId, name: output.name, input: {} };
  const opening = sseEvent("content_block_start", {
    type: "content_block_start",
    index,
    content_block: start,
  });
  // The ping follows the first content_block_start, whichever block that is.
  const [first, ...rest] = [...before, opening];
  frames.push(first as string, sseEvent("ping", { type: "ping" }), ...rest);
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
    frames.push(sseEvent("content_block_delta", { type: "content_block_delta", index, delta }));
  }
  frames.push(sseEvent("content_block_stop", { type: "content_block_stop", index }));
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

export function respondMessages(
  body: unknown,
  behaviour: Behaviour,
  ctx: RouteContext,
  promptCache: PromptCache = new Set(),
): Reply {
  const request = parseMessagesRequest(body);
  const cache = promptCacheUsage(body, promptCache);
  const sequence = ctx.nextSequence().toString(36).padStart(20, "0");
  const id = `msg_emu${sequence}`;
  const thinking = think(request, behaviour, id);
  const output = answer(request, behaviour, thinking);
  const toolId = `toolu_emu${sequence}`;
  const headers = { "request-id": anthropicRequestId() };
  if (request.stream) {
    return {
      kind: "stream",
      contentType: "text/event-stream; charset=utf-8",
      frames: streamFrames(request, output, behaviour, thinking, id, toolId, cache),
      errorFrame: sseEvent("error", behaviour.body ?? ANTHROPIC_STREAM_ERROR),
      headers,
    };
  }
  const response: Record<string, unknown> = {
    id,
    type: "message",
    role: "assistant",
    model: request.model,
    content: [...thinkingBlocks(thinking), contentBlock(output, toolId)],
    stop_reason: stopReason(output),
    stop_sequence: output.kind === "text" ? output.stopSequence : null,
  };
  if (!behaviour.omitUsage) {
    const reasoning = thinking ? thinking.tokens : (behaviour.reasoningTokens ?? 0);
    response.usage = usage(request.promptTokens, behaviour, output.tokens + reasoning, cache);
  }
  return { kind: "json", status: 200, body: response, headers };
}

/** `POST /v1/messages/count_tokens`. */
export function respondCountTokens(body: unknown): Reply {
  return { kind: "json", status: 200, body: { input_tokens: parseMessagesRequest(body).promptTokens } };
}
