import type { ChatCompletionRequest, ChatMessage, ContentPart, FunctionTool } from "../../openai/requests.ts";
import {
  cappedOutput,
  invalidField,
  parseDataUrl,
  parseToolArguments,
  stopList,
  textOf,
  toolCallName,
} from "../common.ts";
import type { CallContext, UpstreamHttpRequest } from "../types.ts";
import type { OllamaChatBody, OllamaMessage, OllamaOptions, OllamaThink, OllamaThinkLevel } from "./wire.ts";
import { OLLAMA } from "./wire.ts";

/** OpenAI parameter → Ollama option, for the numbers that keep their meaning. */
const RENAMED = [
  ["temperature", "temperature"],
  ["top_p", "top_p"],
  ["seed", "seed"],
  ["presence_penalty", "presence_penalty"],
  ["frequency_penalty", "frequency_penalty"],
] as const satisfies ReadonlyArray<readonly [keyof ChatCompletionRequest, keyof OllamaOptions]>;

/** A local Ollama takes no key; one is sent as a bearer token only when set (proxies, Ollama cloud). */
export function ollamaEndpoint(ctx: CallContext, path: string): Omit<UpstreamHttpRequest, "body"> {
  const base = ctx.target.baseUrl.replace(/\/+$/, "");
  const headers: Record<string, string> = {
    "content-type": "application/json",
    ...ctx.target.options.headers,
  };
  if (ctx.target.apiKey) headers.authorization = `Bearer ${ctx.target.apiKey}`;
  return { url: `${base}${path}`, headers };
}

/**
 * `stream` is always explicit: Ollama streams unless told otherwise. Anthropic-style `cache_control`
 * breakpoints are dropped: Ollama keeps the prompt's KV cache on its own and has no such field.
 */
export function ollamaChatRequest(
  req: ChatCompletionRequest,
  ctx: CallContext,
  stream: boolean,
): UpstreamHttpRequest {
  if (typeof req.n === "number" && req.n > 1)
    throw invalidField("n", `${OLLAMA} returns a single choice; n must be 1`);
  const body: OllamaChatBody = { model: ctx.upstreamModel, messages: toMessages(req.messages), stream };
  const tools = offeredTools(req);
  if (tools.length > 0) {
    body.tools = tools.map(({ function: fn }) => ({
      type: "function",
      function: {
        name: fn.name,
        ...(fn.description ? { description: fn.description } : {}),
        ...(fn.parameters ? { parameters: fn.parameters } : {}),
      },
    }));
  }
  const format = req.response_format;
  if (format?.type === "json_object") body.format = "json";
  if (format?.type === "json_schema") body.format = format.json_schema.schema ?? "json";
  const options = optionsOf(req, ctx);
  if (Object.keys(options).length > 0) body.options = options;
  const effort = req.reasoning_effort;
  if (effort && ctx.reasoning === true) body.think = thinkFor(effort, ctx.upstreamModel);
  return { ...ollamaEndpoint(ctx, "/api/chat"), body: JSON.stringify(body) };
}

type ReasoningEffort = NonNullable<ChatCompletionRequest["reasoning_effort"]>;

/** reasoning_effort → gpt-oss's three levels: minimal has no level of its own, and high is the top. */
export const THINK_LEVELS: Readonly<Record<Exclude<ReasoningEffort, "none">, OllamaThinkLevel>> = {
  minimal: "low",
  low: "low",
  medium: "medium",
  high: "high",
  xhigh: "high",
};

/**
 * gpt-oss (Ollama parses it as harmony) is the model that takes a level; every other thinking model takes
 * only true or false, and Ollama answers a level there with 400 "think value … is not supported for this
 * model" (later versions read it as true). Ollama decides by the model's family and template, which the
 * router cannot see, so the name decides: its last path segment (after a namespace such as `hf.co/…/`)
 * starts with gpt-oss, whatever the tag (`gpt-oss:120b-cloud`). A gpt-oss under another name gets true,
 * which it takes as its default level, medium.
 */
export function takesThinkLevels(upstreamModel: string): boolean {
  const name = upstreamModel.slice(upstreamModel.lastIndexOf("/") + 1).toLowerCase();
  return name.startsWith("gpt-oss");
}

/**
 * reasoning_effort → `think`: none turns thinking off, any other effort on, as a level where the model
 * takes one. Only models the catalog marks `reasoning` get it: Ollama refuses `think: true` (and any level)
 * with a 400 for a model that cannot think. Without an effort nothing is sent and the model keeps Ollama's
 * default, which is to think for a thinking model, as OpenAI's reasoning models reason without one.
 */
export function thinkFor(effort: ReasoningEffort, upstreamModel: string): OllamaThink {
  if (effort === "none") return false;
  return takesThinkLevels(upstreamModel) ? THINK_LEVELS[effort] : true;
}

/**
 * Ollama has no tool_choice. "none" is honoured by offering no tools and a named function by offering only
 * that one; "required" cannot be enforced and behaves as "auto".
 */
function offeredTools(req: ChatCompletionRequest): FunctionTool[] {
  const tools = req.tools ?? [];
  const choice = req.tool_choice;
  if (choice === "none") return [];
  if (typeof choice === "object") return tools.filter((tool) => tool.function.name === choice.function.name);
  return tools;
}

function toMessages(messages: ChatMessage[]): OllamaMessage[] {
  return messages.map((message, i): OllamaMessage => {
    if (message.role === "system" || message.role === "developer") {
      return { role: "system", content: textOf(message.content) };
    }
    if (message.role === "user") return userMessage(message.content, i);
    if (message.role === "assistant") return assistantMessage(message, i);
    const out: OllamaMessage = {
      role: "tool",
      content: textOf(message.content),
      tool_call_id: message.tool_call_id,
    };
    const name = toolCallName(messages, i);
    if (name) out.tool_name = name;
    return out;
  });
}

function assistantMessage(message: Extract<ChatMessage, { role: "assistant" }>, i: number): OllamaMessage {
  const out: OllamaMessage = { role: "assistant", content: textOf(message.content) };
  if (message.tool_calls && message.tool_calls.length > 0) {
    out.tool_calls = message.tool_calls.map((call, j) => ({
      id: call.id,
      function: {
        name: call.function.name,
        arguments: parseToolArguments(
          call.function.arguments,
          `messages[${i}].tool_calls[${j}].function.arguments`,
        ),
      },
    }));
  }
  return out;
}

function userMessage(content: string | ContentPart[], i: number): OllamaMessage {
  if (typeof content === "string") return { role: "user", content };
  const images: string[] = [];
  content.forEach((part, j) => {
    const field = `messages[${i}].content[${j}]`;
    if (part.type !== "image_url") return;
    const image = parseDataUrl(part.image_url.url);
    if (!image) {
      throw invalidField(
        `${field}.image_url.url`,
        `${OLLAMA} takes images inline only: send a base64 data URL (data:image/png;base64,…), not a link`,
      );
    }
    images.push(image.data);
  });
  const message: OllamaMessage = { role: "user", content: textOf(content) };
  if (images.length > 0) message.images = images;
  return message;
}

function optionsOf(req: ChatCompletionRequest, ctx: CallContext): OllamaOptions {
  const options: OllamaOptions = {};
  for (const [from, to] of RENAMED) {
    const value = req[from];
    if (typeof value === "number") options[to] = value;
  }
  const maxTokens = req.max_completion_tokens ?? req.max_tokens;
  if (typeof maxTokens === "number") options.num_predict = cappedOutput(maxTokens, ctx);
  const stop = stopList(req.stop);
  if (stop && stop.length > 0) options.stop = stop;
  return options;
}
