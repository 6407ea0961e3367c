import type {
  ChatCompletionRequest,
  FunctionTool,
  ResponseFormat,
  ToolChoice,
} from "../../openai/requests.ts";
import { invalidField, stopList } from "../common.ts";
import type { CallContext, UpstreamHttpRequest } from "../types.ts";
import { toAnthropicMessages } from "./messages.ts";
import type { AnthropicRequestBody, AnthropicTool, AnthropicToolChoice } from "./wire.ts";

/** Anthropic requires `max_tokens`; this is sent when the client sets no limit (the router may override). */
export const ANTHROPIC_DEFAULT_MAX_TOKENS = 4096;
export const ANTHROPIC_DEFAULT_VERSION = "2023-06-01";
/** OpenAI accepts temperatures up to 2, Anthropic up to 1. */
const MAX_TEMPERATURE = 1;

export interface AnthropicRequestOptions {
  defaultMaxTokens: number;
}

type Rule = (req: ChatCompletionRequest, body: AnthropicRequestBody) => void;

/** A parameter copied over when the client set it, renamed and converted on the way. */
function param<K extends keyof ChatCompletionRequest & string, T extends keyof AnthropicRequestBody>(
  from: K,
  to: T,
  convert: (value: NonNullable<ChatCompletionRequest[K]>) => AnthropicRequestBody[T],
): Rule {
  return (req, body) => {
    const value = req[from];
    if (value !== null && value !== undefined) body[to] = convert(value);
  };
}

/**
 * Current Claude models (Sonnet 4.5, Haiku 4.5, Opus 4.1 and later) refuse a request that sets both
 * temperature and top_p (400 "`temperature` and `top_p` cannot both be specified for this model"). With
 * both, temperature is sent: it is the one both APIs advise tuning (top_p only instead of it, not beside it).
 */
function topP(req: ChatCompletionRequest, body: AnthropicRequestBody): void {
  const { top_p, temperature } = req;
  if (top_p !== null && top_p !== undefined && (temperature === null || temperature === undefined))
    body.top_p = top_p;
}

/**
 * Parameters with a direct counterpart. Dropped because the Messages API has none: seed, presence and
 * frequency penalties, logit bias, reasoning_effort, and `metadata` (Anthropic's takes only `user_id`).
 */
const PARAMETERS: readonly Rule[] = [
  param("temperature", "temperature", (t) => Math.min(Math.max(t, 0), MAX_TEMPERATURE)),
  topP,
  param("stop", "stop_sequences", stopSequences),
  param("user", "metadata", (user) => ({ user_id: user })),
];

const TOOL_CHOICES: Readonly<Record<Extract<ToolChoice, string>, AnthropicToolChoice>> = {
  auto: { type: "auto" },
  required: { type: "any" },
  // Tools stay defined: a conversation holding tool_use blocks must still declare them.
  none: { type: "none" },
};

/**
 * The Messages API has no JSON mode that every model supports (`output_config.format` structured outputs
 * exist only on recent models and reject others), so JSON output is asked for in the system prompt; for
 * `json_schema` the schema is included. The model is instructed, not constrained.
 */
const JSON_INSTRUCTION =
  "Respond with a single valid JSON object and nothing else: no prose, no code fences.";

function formatInstruction(format: ResponseFormat | undefined): string | null {
  if (format?.type === "json_object") return JSON_INSTRUCTION;
  if (format?.type !== "json_schema") return null;
  const { name, description, schema } = format.json_schema;
  const about = description ? ` (${description})` : "";
  const shape = schema ? ` It must conform to this JSON Schema:\n${JSON.stringify(schema)}` : "";
  return `${JSON_INSTRUCTION} The object is "${name}"${about}.${shape}`;
}

function stopSequences(stop: string | string[]): string[] | undefined {
  const list = stopList(stop) ?? [];
  list.forEach((sequence, j) => {
    if (sequence.trim() === "") {
      const field = typeof stop === "string" ? "stop" : `stop[${j}]`;
      throw invalidField(field, "Anthropic models cannot stop on an empty or whitespace-only sequence");
    }
  });
  return list.length > 0 ? list : undefined;
}

function toTool(tool: FunctionTool): AnthropicTool {
  const { name, description, parameters } = tool.function;
  const input_schema = { type: "object", ...parameters };
  return description ? { name, description, input_schema } : { name, input_schema };
}

function toolChoice(
  choice: ToolChoice | undefined,
  parallel: boolean | undefined,
): AnthropicToolChoice | undefined {
  const mapped: AnthropicToolChoice | undefined =
    choice === undefined
      ? undefined
      : typeof choice === "string"
        ? TOOL_CHOICES[choice]
        : { type: "tool", name: choice.function.name };
  if (parallel !== false || mapped?.type === "none") return mapped;
  return { ...(mapped ?? { type: "auto" }), disable_parallel_tool_use: true };
}

export function buildMessagesBody(
  req: ChatCompletionRequest,
  ctx: CallContext,
  stream: boolean,
  options: AnthropicRequestOptions,
): AnthropicRequestBody {
  if ((req.n ?? 1) > 1) throw invalidField("n", "Anthropic models return a single choice; n must be 1");
  const { system, messages } = toAnthropicMessages(req.messages);
  const instruction = formatInstruction(req.response_format);
  if (instruction) system.push(instruction);

  const body: AnthropicRequestBody = {
    model: ctx.upstreamModel,
    max_tokens: req.max_completion_tokens ?? req.max_tokens ?? options.defaultMaxTokens,
    messages,
  };
  if (system.length > 0) body.system = system.join("\n\n");
  for (const rule of PARAMETERS) rule(req, body);
  if (req.tools && req.tools.length > 0) {
    body.tools = req.tools.map(toTool);
    const choice = toolChoice(req.tool_choice, req.parallel_tool_calls);
    if (choice) body.tool_choice = choice;
  }
  if (stream) body.stream = true;
  return body;
}

export function anthropicChatRequest(
  req: ChatCompletionRequest,
  ctx: CallContext,
  stream: boolean,
  options: AnthropicRequestOptions = { defaultMaxTokens: ANTHROPIC_DEFAULT_MAX_TOKENS },
): UpstreamHttpRequest {
  const { target } = ctx;
  const headers: Record<string, string> = {
    ...target.options.headers,
    "content-type": "application/json",
    "anthropic-version": target.options.apiVersion ?? ANTHROPIC_DEFAULT_VERSION,
  };
  if (target.apiKey) headers["x-api-key"] = target.apiKey;
  const url = `${target.baseUrl.replace(/\/+$/, "")}/v1/messages`;
  return { url, headers, body: JSON.stringify(buildMessagesBody(req, ctx, stream, options)) };
}
