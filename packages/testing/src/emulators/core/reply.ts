import type { Behaviour } from "./behaviour.ts";
import { field, isRecord } from "./json.ts";
import { countTokens, truncateTokens } from "./tokens.ts";

/** A tool the request offered, with its JSON-schema parameters (any casing of `type`). */
export interface OfferedTool {
  name: string;
  parameters: unknown;
}

/** What every provider's request boils down to, for choosing the answer. */
export interface ReplyRequest {
  /** Text of the last user turn (or of the last tool result, when the conversation ends with one). */
  lastText: string;
  /** The conversation ends with a tool result: answer in text rather than call the tool again. */
  afterToolResult: boolean;
  /** The first tool on offer, unless the request disabled tool use. */
  tool: OfferedTool | undefined;
  maxTokens: number | undefined;
  stop: readonly string[];
  /** The request asked for a JSON answer (json_object, responseMimeType, format: "json"). */
  json: boolean;
}

export type Finish = "stop" | "length" | "stop_sequence" | "tool";

export interface TextOutput {
  kind: "text";
  text: string;
  finish: Exclude<Finish, "tool">;
  stopSequence: string | null;
  tokens: number;
}

export interface ToolOutput {
  kind: "tool";
  name: string;
  arguments: Record<string, unknown>;
  /** `arguments` as compact JSON, the exact string OpenAI sends and streams. */
  argumentsJson: string;
  finish: "tool";
  tokens: number;
}

export type Output = TextOutput | ToolOutput;

/** The default answer: `Echo: ` and the last user text. */
export function echoText(lastText: string): string {
  return `Echo: ${lastText}`;
}

/** Arguments for a tool, derived from its parameter schema: strings get the user text, numbers 1, etc. */
export function argumentsFor(parameters: unknown, text: string): Record<string, unknown> {
  const properties = field(parameters, "properties");
  const args: Record<string, unknown> = {};
  if (!isRecord(properties)) return args;
  for (const [name, schema] of Object.entries(properties)) {
    const type = String(field(schema, "type") ?? "string").toLowerCase();
    if (type === "number" || type === "integer") args[name] = 1;
    else if (type === "boolean") args[name] = true;
    else if (type === "array") args[name] = [];
    else if (type === "object") args[name] = {};
    else args[name] = text;
  }
  return args;
}

function toolOutput(name: string, args: Record<string, unknown> | string): ToolOutput {
  const argumentsJson = typeof args === "string" ? args : JSON.stringify(args);
  const parsed: unknown = typeof args === "string" ? safeParse(args) : args;
  return {
    kind: "tool",
    name,
    arguments: isRecord(parsed) ? parsed : {},
    argumentsJson,
    finish: "tool",
    tokens: countTokens(argumentsJson),
  };
}

function safeParse(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function cutAtStop(text: string, stop: readonly string[]): { text: string; sequence: string | null } {
  let at = -1;
  let sequence: string | null = null;
  for (const candidate of stop) {
    const index = text.indexOf(candidate);
    if (index !== -1 && (at === -1 || index < at)) {
      at = index;
      sequence = candidate;
    }
  }
  return at === -1 ? { text, sequence: null } : { text: text.slice(0, at), sequence };
}

/** Decides the answer: a forced or offered tool call, else the (custom or echo) text, cut by stop and max tokens. */
export function planOutput(request: ReplyRequest, behaviour: Behaviour): Output {
  if (behaviour.toolCall) return toolOutput(behaviour.toolCall.name, behaviour.toolCall.arguments);
  if (request.tool && !request.afterToolResult) {
    return toolOutput(request.tool.name, argumentsFor(request.tool.parameters, request.lastText));
  }
  const base =
    behaviour.reply ??
    (request.json ? JSON.stringify({ reply: echoText(request.lastText) }) : echoText(request.lastText));
  const stopped = cutAtStop(base, request.stop);
  const limited =
    request.maxTokens === undefined
      ? { text: stopped.text, truncated: false }
      : truncateTokens(stopped.text, request.maxTokens);
  const finish = limited.truncated ? "length" : stopped.sequence === null ? "stop" : "stop_sequence";
  return {
    kind: "text",
    text: limited.text,
    finish,
    stopSequence: finish === "stop_sequence" ? stopped.sequence : null,
    tokens: countTokens(limited.text),
  };
}
