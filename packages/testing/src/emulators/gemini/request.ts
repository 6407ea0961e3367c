import { asArray, asNumber, asString, field, isRecord, stopList } from "../core/json.ts";
import type { OfferedTool, ReplyRequest } from "../core/reply.ts";
import { countTokens } from "../core/tokens.ts";

export interface GenerateRequest {
  promptTokens: number;
  candidates: number;
  reply: ReplyRequest;
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
