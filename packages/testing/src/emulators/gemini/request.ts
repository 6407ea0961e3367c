import { asArray, asNumber, asString, field, isRecord, stopList } from "../core/json.ts";
import type { OfferedTool, ReplyRequest } from "../core/reply.ts";
import { countTokens } from "../core/tokens.ts";

export interface GenerateRequest {
  promptTokens: number;
  candidates: number;
  reply: ReplyRequest;
  /** Whether `thinkingConfig` asks the model to think, and the budget it sets (-1 / absent: dynamic). */
  thinking: { budget: number | undefined; includeThoughts: boolean } | null;
}

/** `thinkingConfig` → whether the model thinks: a level always does; a budget unless it is 0. */
function thinkingOf(config: unknown): GenerateRequest["thinking"] {
  const thinking = field(config, "thinkingConfig");
  if (!isRecord(thinking)) return null;
  const budget = asNumber(thinking.thinkingBudget);
  if (budget === 0 || (budget === undefined && thinking.thinkingLevel === undefined)) return null;
  return {
    budget: budget !== undefined && budget > 0 ? budget : undefined,
    includeThoughts: thinking.includeThoughts === true,
  };
}

/** Text parts of a `Content`, newline-joined; functionResponse parts count as their JSON when `results`. */
function partsText(content: unknown, results: boolean): string {
  const out: string[] = [];
  for (const part of asArray(field(content, "parts")) ?? []) {
    const text = asString(field(part, "text"));
    if (text !== undefined) out.push(text);
    else if (results && isRecord(field(part, "functionResponse"))) {
      out.push(JSON.stringify(field(field(part, "functionResponse"), "response") ?? {}));
    }
  }
  return out.join("\n");
}

function hasFunctionResponse(content: unknown): boolean {
  return (asArray(field(content, "parts")) ?? []).some((part) => isRecord(field(part, "functionResponse")));
}

function offeredTool(body: unknown): OfferedTool | undefined {
  const config = field(field(body, "toolConfig"), "functionCallingConfig");
  if (field(config, "mode") === "NONE") return undefined;
  const allowed = asString(asArray(field(config, "allowedFunctionNames"))?.[0]);
  for (const tool of asArray(field(body, "tools")) ?? []) {
    for (const declaration of asArray(field(tool, "functionDeclarations")) ?? []) {
      const name = asString(field(declaration, "name"));
      if (name !== undefined && (allowed === undefined || allowed === name)) {
        return {
          name,
          parameters: field(declaration, "parametersJsonSchema") ?? field(declaration, "parameters"),
        };
      }
    }
  }
  return undefined;
}

export function parseGenerateRequest(body: unknown): GenerateRequest {
  const contents = asArray(field(body, "contents")) ?? [];
  let promptTokens = countTokens(partsText(field(body, "systemInstruction"), false));
  let lastUser = "";
  for (const content of contents) {
    const text = partsText(content, false);
    promptTokens += countTokens(text);
    if (field(content, "role") !== "model") lastUser = text;
  }
  const last = contents[contents.length - 1];
  const afterToolResult = hasFunctionResponse(last);
  const config = field(body, "generationConfig");
  return {
    promptTokens,
    thinking: thinkingOf(config),
    candidates: Math.max(1, asNumber(field(config, "candidateCount")) ?? 1),
    reply: {
      lastText: afterToolResult ? partsText(last, true) : lastUser,
      afterToolResult,
      tool: offeredTool(body),
      maxTokens: asNumber(field(config, "maxOutputTokens")),
      stop: stopList(field(config, "stopSequences")),
      json: field(config, "responseMimeType") === "application/json",
    },
  };
}

/** The INVALID_ARGUMENT message Google gives for malformed `contents`, if any. */
export function generateProblem(body: unknown): string | undefined {
  const contents = asArray(field(body, "contents"));
  if (!contents || contents.length === 0)
    return "* GenerateContentRequest.contents: contents is not specified\n";
  for (let i = 0; i < contents.length; i++) {
    const role = field(contents[i], "role");
    if (role !== undefined && role !== "user" && role !== "model")
      return "Please use a valid role: user, model.";
    const parts = asArray(field(contents[i], "parts"));
    if (!parts || parts.length === 0) {
      return `* GenerateContentRequest.contents[${i}].parts: contents.parts must not be empty.\n`;
    }
  }
  return undefined;
}

/** Allowed thinking budgets per 2.5 model, as Google documents them (-1 is dynamic thinking). */
const BUDGET_RANGES: ReadonlyArray<[pattern: RegExp, min: number, max: number, zero: boolean]> = [
  [/^gemini-2\.5-pro/, 128, 32_768, false],
  [/^gemini-2\.5-flash-lite/, 512, 24_576, true],
  [/^gemini-2\.5-flash/, 1, 24_576, true],
];

/**
 * The INVALID_ARGUMENT message for a `thinkingConfig` the model refuses: a level and a budget together, a
 * level on a 2.5 model (only Gemini 3 takes levels), a budget outside the model's range (2.5 Pro cannot
 * turn thinking off).
 */
export function thinkingProblem(body: unknown, model: string): string | undefined {
  const thinking = field(field(body, "generationConfig"), "thinkingConfig");
  if (!isRecord(thinking)) return undefined;
  const level = thinking.thinkingLevel;
  const budget = thinking.thinkingBudget;
  if (level !== undefined && budget !== undefined)
    return "You can only set only one of thinking budget and thinking level.";
  const name = model.replace(/^models\//, "");
  const gemini3 = /^gemini-3/.test(name);
  if (level !== undefined) {
    if (!gemini3) return "Thinking level is not supported for this model.";
    if (!["minimal", "low", "medium", "high"].includes(String(level).toLowerCase()))
      return `Invalid value at 'generation_config.thinking_config.thinking_level' (${String(level)})`;
  }
  if (typeof budget !== "number" || budget === -1 || gemini3) return undefined;
  for (const [pattern, min, max, zero] of BUDGET_RANGES) {
    if (!pattern.test(name)) continue;
    if (budget === 0 && !zero) return "Budget 0 is invalid. This model only works in thinking mode.";
    if (budget !== 0 && (budget < min || budget > max))
      return `The thinking budget ${budget} is invalid. Please choose a value between ${zero ? 0 : min} and ${max}.`;
  }
  return undefined;
}
