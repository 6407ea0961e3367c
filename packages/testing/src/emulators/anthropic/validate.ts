import { asArray, asString, field, isRecord } from "../core/json.ts";

const IMAGE_TYPES = ["image/jpeg", "image/png", "image/gif", "image/webp"];
const BLOCK_TYPES = ["text", "image", "document", "tool_use", "tool_result", "thinking", "redacted_thinking"];

function blockProblem(block: unknown, at: string): string | undefined {
  const type = asString(field(block, "type"));
  if (type === undefined || !BLOCK_TYPES.includes(type))
    return `${at}.type: Input tag '${type}' found using 'type' does not match any of the expected tags`;
  if (type === "text" && typeof field(block, "text") !== "string") return `${at}.text.text: Field required`;
  if (type === "image") {
    const source = field(block, "source");
    const sourceType = field(source, "type");
    if (sourceType === "base64") {
      if (!IMAGE_TYPES.includes(asString(field(source, "media_type")) ?? "")) {
        return `${at}.image.source.base64.media_type: Input should be 'image/jpeg', 'image/png', 'image/gif' or 'image/webp'`;
      }
      if (typeof field(source, "data") !== "string") return `${at}.image.source.base64.data: Field required`;
    } else if (sourceType !== "url" && sourceType !== "file") {
      return `${at}.image.source: Input tag '${String(sourceType)}' found using 'type' does not match any of the expected tags: 'base64', 'url', 'file'`;
    }
  }
  return undefined;
}

function systemProblem(system: unknown): string | undefined {
  if (system === undefined || typeof system === "string") return undefined;
  const blocks = asArray(system);
  if (!blocks) return "system: Input should be a valid list";
  for (let i = 0; i < blocks.length; i++) {
    if (field(blocks[i], "type") !== "text" || typeof field(blocks[i], "text") !== "string") {
      return `system.${i}: Input should be a text block`;
    }
  }
  return undefined;
}

/** The 400 message the Messages API gives for a malformed body, or undefined when it is acceptable. */
export function messagesProblem(body: unknown): string | undefined {
  if (!isRecord(body)) return "Input should be a valid dictionary";
  if (typeof body.model !== "string") return "model: Field required";
  if (body.max_tokens === undefined) return "max_tokens: Field required";
  if (typeof body.max_tokens !== "number" || !Number.isInteger(body.max_tokens)) {
    return "max_tokens: Input should be a valid integer";
  }
  if (body.max_tokens < 1) return "max_tokens: Input should be greater than or equal to 1";
  // Current models (Sonnet 4.5, Haiku 4.5, Opus 4.1 and later) take one sampling parameter or the other.
  if (body.temperature !== undefined && body.top_p !== undefined)
    return "`temperature` and `top_p` cannot both be specified for this model. Please use only one.";
  const system = systemProblem(body.system);
  if (system) return system;
  const messages = asArray(body.messages);
  if (!messages) return "messages: Field required";
  if (messages.length === 0) return "messages: at least one message is required";
  let previous: unknown;
  for (let i = 0; i < messages.length; i++) {
    const message = messages[i];
    const role = field(message, "role");
    if (role !== "user" && role !== "assistant")
      return `messages.${i}.role: Input should be 'user' or 'assistant'`;
    if (role === previous) {
      return `messages: roles must alternate between "user" and "assistant", but found multiple "${role}" roles in a row`;
    }
    previous = role;
    const content = field(message, "content");
    if (typeof content === "string") continue;
    const blocks = asArray(content);
    if (!blocks) return `messages.${i}.content: Input should be a valid list`;
    for (let j = 0; j < blocks.length; j++) {
      const problem = blockProblem(blocks[j], `messages.${i}.content.${j}`);
      if (problem) return problem;
    }
  }
  return undefined;
}
