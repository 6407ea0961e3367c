import { cacheBreakpoints, fieldName, misorderedTtl } from "../../openai/cache-control.ts";
import type {
  ChatCompletionRequest,
  FunctionTool,
  ResponseFormat,
  ToolChoice,
} from "../../openai/requests.ts";
import { cappedOutput, invalidField, stopList, thinkingBudgetWithin } from "../common.ts";
import type { CallContext, UpstreamHttpRequest } from "../types.ts";
import { toAnthropicMessages } from "./messages.ts";
import type { AnthropicMessage, AnthropicRequestBody, AnthropicTool, AnthropicToolChoice } from "./wire.ts";

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
 * frequency penalties, logit bias, and `metadata` (Anthropic's takes only `user_id`). reasoning_effort
 * becomes extended thinking (`thinkingFor`).
 */
const PARAMETERS: readonly Rule[] = [
  param("temperature", "temperature", (t) => Math.min(Math.max(t, 0), MAX_TEMPERATURE)),
  topP,
  param("stop", "stop_sequences", stopSequences),
  param("user", "metadata", (user) => ({ user_id: user })),
];

type ReasoningEffort = Exclude<NonNullable<ChatCompletionRequest["reasoning_effort"]>, "none">;

/** Anthropic refuses a thinking budget below this. */
export const MIN_THINKING_BUDGET = 1024;

/**
 * reasoning_effort → extended thinking's `budget_tokens`, doubling from Anthropic's floor. 32k is the top:
 * Anthropic advises batch processing above it, as longer thinking outlasts ordinary HTTP timeouts.
 */
export const THINKING_BUDGETS: Readonly<Record<ReasoningEffort, number>> = {
  minimal: 1024,
  low: 2048,
  medium: 8192,
  high: 16_384,
  xhigh: 32_768,
};

/** Anthropic's sampling ranges with thinking on: temperature only 1 (its default), top_p 0.95 to 1. */
const THINKING_MIN_TOP_P = 0.95;

/**
 * A conversation that ends with tool results continues the assistant turn that called the tools, and with
 * thinking on Anthropic wants that turn to start with its thinking block, signature included (400 "a final
 * `assistant` message must start with a thinking block"). An OpenAI client has nowhere to keep the block, so
 * such a request goes without thinking, as Anthropic itself advises; the turn's first request thought.
 */
function continuesToolTurn(messages: AnthropicMessage[]): boolean {
  const last = messages[messages.length - 1];
  return (
    last?.role === "user" &&
    Array.isArray(last.content) &&
    last.content.some((block) => block.type === "tool_result")
  );
}

/**
 * The thinking budget and max_tokens for a request's reasoning_effort, or null for none. Anthropic refuses
 * thinking beside a forced tool choice (`required` or a named function): the client's explicit tool choice
 * wins and the request goes without thinking, as OpenAI reasoning models still honour it.
 *
 * The client's max_tokens is kept; the budget is the effort's, less what the answer keeps, and never below
 * 1,024, so a limit of 1,024 or less cannot think and is refused. Without a client limit, max_tokens is
 * raised to the budget plus the usual default, never above the model's max_output_tokens (what admission
 * held); a model whose cap leaves no room for the minimum budget goes without thinking. Only models the
 * catalog marks `reasoning` think, and never after a prefilled assistant turn, which Anthropic refuses
 * beside thinking.
 */
function thinkingFor(
  req: ChatCompletionRequest,
  ctx: CallContext,
  messages: AnthropicMessage[],
  defaultMaxTokens: number,
): { budget: number; maxTokens: number } | null {
  const effort = req.reasoning_effort;
  if (effort === null || effort === undefined || effort === "none" || ctx.reasoning !== true) return null;
  const choice = req.tool_choice;
  const forced = choice === "required" || (typeof choice === "object" && choice !== null);
  if ((forced && req.tools && req.tools.length > 0) || continuesToolTurn(messages)) return null;
  if (messages[messages.length - 1]?.role === "assistant") return null;
  const wanted = THINKING_BUDGETS[effort];
  const asked = req.max_completion_tokens ?? req.max_tokens;
  const maxTokens = cappedOutput(asked ?? wanted + defaultMaxTokens, ctx);
  if (maxTokens <= MIN_THINKING_BUDGET) {
    // Without a client limit, the model's cap is this low: it goes without thinking rather than failing.
    if (asked === null || asked === undefined) return null;
    const field =
      req.max_completion_tokens !== null && req.max_completion_tokens !== undefined
        ? "max_completion_tokens"
        : "max_tokens";
    throw invalidField(
      field,
      `reasoning_effort "${effort}" needs max_tokens above ${MIN_THINKING_BUDGET}: Anthropic models think ` +
        `with a budget of at least ${MIN_THINKING_BUDGET} tokens, inside max_tokens, and max_tokens is ` +
        `${maxTokens}. Raise max_tokens (or max_completion_tokens) or set reasoning_effort to "none"`,
    );
  }
  // Thinking and answer both count against max_tokens (as reasoning against OpenAI's max_completion_tokens).
  const budget = thinkingBudgetWithin(maxTokens, wanted, {
    floor: MIN_THINKING_BUDGET,
    answerCap: defaultMaxTokens,
  });
  return { budget, maxTokens };
}

/**
 * Thinking fixes the sampling: Anthropic refuses a temperature other than 1 and a top_p below 0.95 beside
 * it. The client asked for reasoning explicitly, while temperature is often an SDK's or a UI's default, so
 * the sampling parameters give way rather than the request failing: temperature is dropped (1 is the
 * default) and top_p is kept only inside the range, as the mapping already bends sampling to fit Claude
 * (temperature clamped to 1, top_p dropped beside temperature).
 */
function fitSamplingToThinking(req: ChatCompletionRequest, body: AnthropicRequestBody): void {
  delete body.temperature;
  delete body.top_p;
  const { top_p } = req;
  if (top_p !== null && top_p !== undefined && top_p >= THINKING_MIN_TOP_P) body.top_p = top_p;
}

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
  const out: AnthropicTool = description ? { name, description, input_schema } : { name, input_schema };
  if (tool.cache_control) out.cache_control = tool.cache_control;
  return out;
}

/** The beta that enables 1-hour cache breakpoints on API versions that still gate them. */
const EXTENDED_CACHE_TTL_BETA = "extended-cache-ttl-2025-04-11";

/**
 * Prompt-cache breakpoints are forwarded as set (the request schema caps them at four). Anthropic refuses a
 * 1-hour breakpoint after a 5-minute one in its reading order (tools, system, messages): refused here,
 * naming the field, rather than spending a round trip on the provider's 400.
 */
function checkCacheOrder(req: ChatCompletionRequest): void {
  const misplaced = misorderedTtl(cacheBreakpoints(req));
  if (misplaced) {
    throw invalidField(
      fieldName(misplaced.path),
      'a "1h" breakpoint must come before every 5-minute one (Anthropic reads tools, then system messages, then the conversation)',
    );
  }
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
  checkCacheOrder(req);
  const { system, messages } = toAnthropicMessages(req.messages);
  const instruction = formatInstruction(req.response_format);
  if (instruction) system.push({ type: "text", text: instruction });

  const body: AnthropicRequestBody = {
    model: ctx.upstreamModel,
    max_tokens: cappedOutput(req.max_completion_tokens ?? req.max_tokens ?? options.defaultMaxTokens, ctx),
    messages,
  };
  // Blocks only when a breakpoint needs them, so requests without one are sent as before.
  if (system.some((block) => block.cache_control)) body.system = system;
  else if (system.length > 0) body.system = system.map((block) => block.text).join("\n\n");
  for (const rule of PARAMETERS) rule(req, body);
  if (req.tools && req.tools.length > 0) {
    body.tools = req.tools.map(toTool);
    const choice = toolChoice(req.tool_choice, req.parallel_tool_calls);
    if (choice) body.tool_choice = choice;
  }
  const thinking = thinkingFor(req, ctx, messages, options.defaultMaxTokens);
  if (thinking) {
    body.max_tokens = thinking.maxTokens;
    body.thinking = { type: "enabled", budget_tokens: thinking.budget };
    fitSamplingToThinking(req, body);
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
  if (cacheBreakpoints(req).some((b) => b.ttl === "1h")) {
    const beta = headers["anthropic-beta"];
    headers["anthropic-beta"] = beta ? `${beta},${EXTENDED_CACHE_TTL_BETA}` : EXTENDED_CACHE_TTL_BETA;
  }
  const url = `${target.baseUrl.replace(/\/+$/, "")}/v1/messages`;
  return { url, headers, body: JSON.stringify(buildMessagesBody(req, ctx, stream, options)) };
}
