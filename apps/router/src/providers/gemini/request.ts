import type { ChatCompletionRequest, ChatMessage, ContentPart, ToolChoice } from "../../openai/requests.ts";
import {
  cappedOutput,
  invalidField,
  isRecord,
  parseDataUrl,
  parseToolArguments,
  stopList,
  textOf,
  thinkingBudgetWithin,
  toolCallName,
  tryJson,
} from "../common.ts";
import type { CallContext, UpstreamHttpRequest } from "../types.ts";
import { toGeminiSchema } from "./schema.ts";
import type {
  GeminiContent,
  GeminiGenerationConfig,
  GeminiPart,
  GeminiRequestBody,
  GeminiThinkingConfig,
} from "./wire.ts";

/**
 * Gemini 3 rejects a replayed function call that lacks the thought signature it was generated with, and an
 * OpenAI client has nowhere to keep one. The API documents this value as the bypass for exactly that case;
 * it goes on the first call of each model turn, where Gemini itself puts the signature.
 */
const SKIP_THOUGHT_SIGNATURE = "skip_thought_signature_validator";

/** OpenAI parameter → generationConfig field, for the numbers that only change name. */
const RENAMED = [
  ["temperature", "temperature"],
  ["top_p", "topP"],
  ["n", "candidateCount"],
  ["seed", "seed"],
  ["presence_penalty", "presencePenalty"],
  ["frequency_penalty", "frequencyPenalty"],
] as const satisfies ReadonlyArray<readonly [keyof ChatCompletionRequest, keyof GeminiGenerationConfig]>;

const IMAGE_TYPES: Readonly<Record<string, string>> = {
  png: "image/png",
  jpg: "image/jpeg",
  jpeg: "image/jpeg",
  webp: "image/webp",
  gif: "image/gif",
  heic: "image/heic",
  heif: "image/heif",
};

type ReasoningEffort = NonNullable<ChatCompletionRequest["reasoning_effort"]>;

/**
 * reasoning_effort → Gemini 2.5's `thinkingBudget`. Every value is inside the range of every 2.5 model
 * (Pro 128–32,768, Flash 0–24,576, Flash-Lite 512–24,576), hence xhigh stops at Flash's 24,576. `none` is 0,
 * thinking off, except on 2.5 Pro, which cannot stop thinking and refuses 0: it gets its minimum.
 */
export const THINKING_BUDGETS: Readonly<Record<ReasoningEffort, number>> = {
  none: 0,
  minimal: 512,
  low: 1024,
  medium: 8192,
  high: 16_384,
  xhigh: 24_576,
};
const PRO_25_MIN_BUDGET = 128;

/**
 * reasoning_effort → Gemini 3's `thinkingLevel` (which Google recommends over a budget there). Only `low`
 * and `high` are accepted by every Gemini 3 model (Pro refuses minimal and medium), and none of them stops
 * thinking, so none, minimal and low are `low`, the rest `high`.
 */
export const THINKING_LEVELS: Readonly<Record<ReasoningEffort, "low" | "high">> = {
  none: "low",
  minimal: "low",
  low: "low",
  medium: "high",
  high: "high",
  xhigh: "high",
};

/**
 * The thinking config for a reasoning_effort, chosen by the upstream model's generation: a level for
 * Gemini 3 and later, a budget for 2.5; nothing for the 1.x and 2.0 models, which do not think. Thought
 * summaries are asked for whenever the client wants reasoning, and come back as `reasoning_content`.
 */
export function thinkingConfig(effort: ReasoningEffort, upstreamModel: string): GeminiThinkingConfig | null {
  const model = upstreamModel.replace(/^models\//, "").toLowerCase();
  const version = /^gemini-(\d+)(?:\.(\d+))?/.exec(model);
  if (!version) return null;
  const major = Number(version[1]);
  const minor = Number(version[2] ?? 0);
  const thoughts = effort === "none" ? {} : { includeThoughts: true };
  if (major >= 3) return { thinkingLevel: THINKING_LEVELS[effort], ...thoughts };
  if (major < 2 || (major === 2 && minor < 5)) return null;
  const budget = THINKING_BUDGETS[effort];
  const floor = /^gemini-2\.5-pro/.test(model) ? PRO_25_MIN_BUDGET : 0;
  return { thinkingBudget: Math.max(budget, floor), ...thoughts };
}

type AssistantMessage = Extract<ChatMessage, { role: "assistant" }>;

/** The key travels in `x-goog-api-key`, never in the URL, so it cannot end up in a logged URL. */
export function geminiEndpoint(ctx: CallContext, method: string): Omit<UpstreamHttpRequest, "body"> {
  const base = ctx.target.baseUrl.replace(/\/+$/, "");
  const model = encodeURIComponent(ctx.upstreamModel.replace(/^models\//, ""));
  const headers: Record<string, string> = {
    "content-type": "application/json",
    ...ctx.target.options.headers,
  };
  if (ctx.target.apiKey) headers["x-goog-api-key"] = ctx.target.apiKey;
  return { url: `${base}/v1beta/models/${model}:${method}`, headers };
}

/**
 * Anthropic-style `cache_control` breakpoints are dropped: Gemini caches implicitly, and its explicit caches
 * are separate resources (`cachedContents`), not markers in a request.
 */
export function geminiChatRequest(
  req: ChatCompletionRequest,
  ctx: CallContext,
  stream: boolean,
): UpstreamHttpRequest {
  const { system, contents } = toContents(req.messages);
  const body: GeminiRequestBody = { contents };
  if (system.length > 0) body.systemInstruction = { parts: system.map((text) => ({ text })) };
  if (req.tools && req.tools.length > 0) {
    body.tools = [
      {
        functionDeclarations: req.tools.map(({ function: fn }) => ({
          name: fn.name,
          ...(fn.description ? { description: fn.description } : {}),
          ...(fn.parameters ? { parametersJsonSchema: toGeminiSchema(fn.parameters) } : {}),
        })),
      },
    ];
    if (req.tool_choice) body.toolConfig = { functionCallingConfig: functionCalling(req.tool_choice) };
  }
  const config = generationConfig(req, ctx);
  if (Object.keys(config).length > 0) body.generationConfig = config;
  const method = stream ? "streamGenerateContent?alt=sse" : "generateContent";
  return { ...geminiEndpoint(ctx, method), body: JSON.stringify(body) };
}

/**
 * System and developer messages become the system instruction wherever they appear; assistant turns are the
 * `model` role; tool results are `user` turns; consecutive turns of one role are merged (Gemini wants the
 * answers to parallel calls together in one turn).
 */
function toContents(messages: ChatMessage[]): { system: string[]; contents: GeminiContent[] } {
  const system: string[] = [];
  const contents: GeminiContent[] = [];
  const add = (role: GeminiContent["role"], parts: GeminiPart[]): void => {
    if (parts.length === 0) return;
    const last = contents[contents.length - 1];
    if (last?.role === role) last.parts.push(...parts);
    else contents.push({ role, parts });
  };
  for (const [i, message] of messages.entries()) {
    if (message.role === "system" || message.role === "developer") {
      const text = textOf(message.content);
      if (text) system.push(text);
    } else if (message.role === "user") {
      add("user", userParts(message.content, i));
    } else if (message.role === "assistant") {
      add("model", modelParts(message, i));
    } else {
      add("user", [functionResponse(messages, i, message.tool_call_id, textOf(message.content))]);
    }
  }
  return { system, contents };
}

function userParts(content: string | ContentPart[], i: number): GeminiPart[] {
  if (typeof content === "string") return content ? [{ text: content }] : [];
  return content.flatMap((part, j): GeminiPart[] => {
    if (part.type === "text") return part.text ? [{ text: part.text }] : [];
    return [imagePart(part.image_url.url, `messages[${i}].content[${j}].image_url.url`)];
  });
}

/** Data URLs go inline; http(s) URLs go by reference (Gemini fetches public and signed URLs itself). */
function imagePart(url: string, field: string): GeminiPart {
  const inline = parseDataUrl(url);
  if (inline) return { inlineData: { mimeType: inline.mediaType, data: inline.data } };
  if (!/^https?:\/\//i.test(url)) {
    throw invalidField(field, "must be an http(s) URL or a base64 data URL (data:image/png;base64,…)");
  }
  const mimeType = imageTypeOf(url);
  return { fileData: mimeType ? { fileUri: url, mimeType } : { fileUri: url } };
}

function imageTypeOf(url: string): string | undefined {
  const extension = /\.([a-z0-9]+)$/i.exec(URL.canParse(url) ? new URL(url).pathname : "")?.[1];
  return extension ? IMAGE_TYPES[extension.toLowerCase()] : undefined;
}

function modelParts(message: AssistantMessage, i: number): GeminiPart[] {
  const text = textOf(message.content);
  const parts: GeminiPart[] = text ? [{ text }] : [];
  message.tool_calls?.forEach((call, j) => {
    const args = parseToolArguments(
      call.function.arguments,
      `messages[${i}].tool_calls[${j}].function.arguments`,
    );
    const part: GeminiPart = { functionCall: { name: call.function.name, args } };
    if (j === 0) part.thoughtSignature = SKIP_THOUGHT_SIGNATURE;
    parts.push(part);
  });
  return parts;
}

/** Gemini matches a result to its call by function name, which OpenAI's tool message does not carry. */
function functionResponse(messages: ChatMessage[], i: number, callId: string, text: string): GeminiPart {
  const name = toolCallName(messages, i);
  if (!name) {
    throw invalidField(
      `messages[${i}].tool_call_id`,
      `no earlier assistant message has a tool call with id "${callId}"`,
    );
  }
  // A JSON object result is given as is; anything else becomes the `output` Gemini documents.
  const parsed = tryJson(text);
  return { functionResponse: { name, response: isRecord(parsed) ? parsed : { output: text } } };
}

function functionCalling(
  choice: ToolChoice,
): NonNullable<GeminiRequestBody["toolConfig"]>["functionCallingConfig"] {
  if (choice === "none") return { mode: "NONE" };
  if (choice === "auto") return { mode: "AUTO" };
  if (choice === "required") return { mode: "ANY" };
  return { mode: "ANY", allowedFunctionNames: [choice.function.name] };
}

/**
 * Gemini counts thoughts inside maxOutputTokens. With thinking on, maxOutputTokens is always sent (the
 * client's limit, else the model's cap: what admission held), and a 2.5 budget leaves the answer a share of
 * it, as on Anthropic, so thoughts cannot use up the whole limit and return an empty answer. 512 is inside
 * every 2.5 model's range (Flash-Lite takes nothing lower but 0); maxOutputTokens still bounds what a tiny
 * limit lets the call produce.
 */
function fitThinking(thinking: GeminiThinkingConfig, maxTokens: number): GeminiThinkingConfig {
  if (thinking.thinkingBudget === undefined || thinking.thinkingBudget === 0) return thinking;
  const limits = { floor: 512, answerCap: 4096 };
  return { ...thinking, thinkingBudget: thinkingBudgetWithin(maxTokens, thinking.thinkingBudget, limits) };
}

function generationConfig(req: ChatCompletionRequest, ctx: CallContext): GeminiGenerationConfig {
  const config: GeminiGenerationConfig = {};
  const effort = req.reasoning_effort;
  const asked = req.max_completion_tokens ?? req.max_tokens;
  const thinking = effort && ctx.reasoning === true ? thinkingConfig(effort, ctx.upstreamModel) : null;
  for (const [from, to] of RENAMED) {
    const value = req[from];
    if (typeof value === "number") config[to] = value;
  }
  const maxTokens =
    typeof asked === "number" ? cappedOutput(asked, ctx) : thinking ? ctx.maxOutputTokens : undefined;
  if (typeof maxTokens === "number") config.maxOutputTokens = maxTokens;
  if (thinking) config.thinkingConfig = maxTokens === undefined ? thinking : fitThinking(thinking, maxTokens);
  const stop = stopList(req.stop);
  if (stop && stop.length > 0) config.stopSequences = stop;
  const format = req.response_format;
  if (format?.type === "json_object" || format?.type === "json_schema")
    config.responseMimeType = "application/json";
  if (format?.type === "json_schema" && format.json_schema.schema) {
    config.responseJsonSchema = toGeminiSchema(format.json_schema.schema);
  }
  return config;
}
