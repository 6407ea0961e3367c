import { asArray, asNumber, asString, field, isRecord, stopList } from "../core/json.ts";
import type { OfferedTool, ReplyRequest } from "../core/reply.ts";
import { countTokens } from "../core/tokens.ts";

/** A chat request reduced to what the answer depends on. */
export interface ChatRequest {
  model: string;
  stream: boolean;
  includeUsage: boolean;
  choices: number;
  promptTokens: number;
  /** `tool_choice` named one function: OpenAI then finishes with "stop", not "tool_calls". */
  namedTool: boolean;
  reply: ReplyRequest;
}

/** Text of a message `content`: the string, or its `text` parts joined by newlines. */
export function contentText(content: unknown): string {
  if (typeof content === "string") return content;
  const parts = asArray(content);
  if (!parts) return "";
  let text = "";
  for (const part of parts) {
    const value = field(part, "type") === "text" ? asString(field(part, "text")) : undefined;
    if (value !== undefined) text = text === "" ? value : `${text}\n${value}`;
  }
  return text;
}

function offeredTool(body: unknown): { tool: OfferedTool | undefined; named: boolean } {
  const tools = asArray(field(body, "tools")) ?? [];
  const choice = field(body, "tool_choice");
  if (tools.length === 0 || choice === "none") return { tool: undefined, named: false };
  const wanted = asString(field(field(choice, "function"), "name"));
  for (const tool of tools) {
    const fn = field(tool, "function");
    const name = asString(field(fn, "name"));
    if (name !== undefined && (wanted === undefined || wanted === name)) {
      return { tool: { name, parameters: field(fn, "parameters") }, named: wanted !== undefined };
    }
  }
  return { tool: undefined, named: false };
}

export function parseChatRequest(body: unknown): ChatRequest {
  const messages = asArray(field(body, "messages")) ?? [];
  let promptTokens = 0;
  let lastUser = "";
  for (const message of messages) {
    const text = contentText(field(message, "content"));
    promptTokens += countTokens(text);
    if (field(message, "role") === "user") lastUser = text;
  }
  const last = messages[messages.length - 1];
  const afterToolResult = field(last, "role") === "tool";
  const { tool, named } = offeredTool(body);
  const format = asString(field(field(body, "response_format"), "type"));
  return {
    model: asString(field(body, "model")) ?? "",
    stream: field(body, "stream") === true,
    includeUsage: field(field(body, "stream_options"), "include_usage") === true,
    choices: Math.max(1, asNumber(field(body, "n")) ?? 1),
    promptTokens,
    namedTool: named,
    reply: {
      lastText: afterToolResult ? contentText(field(last, "content")) : lastUser,
      afterToolResult,
      tool,
      maxTokens: asNumber(field(body, "max_completion_tokens")) ?? asNumber(field(body, "max_tokens")),
      stop: stopList(field(body, "stop")),
      json: format === "json_object" || format === "json_schema",
    },
  };
}

/** Validation OpenAI does before generating; returns [message, param, code] of the 400, if any. */
export function chatRequestProblem(
  body: unknown,
  requireModel: boolean,
): [string, string | null, string | null] | undefined {
  if (!isRecord(body)) return ["We could not parse the JSON body of your request.", null, null];
  if (requireModel && (typeof body.model !== "string" || body.model === ""))
    return ["you must provide a model parameter", null, null];
  const messages = asArray(body.messages);
  if (!messages) return ["Missing required parameter: 'messages'.", "messages", "missing_required_parameter"];
  if (messages.length === 0) {
    return [
      "Invalid 'messages': empty array. Expected an array with minimum length 1, but got an empty array instead.",
      "messages",
      "empty_array",
    ];
  }
  if (body.stream_options !== undefined && body.stream_options !== null && body.stream !== true) {
    return [
      "The 'stream_options' parameter is only allowed when 'stream' is enabled.",
      "stream_options",
      null,
    ];
  }
  return undefined;
}
