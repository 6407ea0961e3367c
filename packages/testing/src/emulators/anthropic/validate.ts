import { asArray, asString, field, isRecord } from "../core/json.ts";
import { cacheBreakpointCount, MAX_CACHE_BREAKPOINTS } from "./cache.ts";

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

const THINKING_DOCS =
  "Please consult our documentation at https://docs.claude.com/en/docs/build-with-claude/extended-thinking";

/**
 * Extended thinking's constraints: a budget of at least 1,024 below max_tokens, sampling left at its
 * defaults (temperature 1, top_p ≥ 0.95, no top_k), no forced tool use, and, when the request continues a
 * tool-use turn (it ends with tool results), that turn's assistant message opening with its thinking block.
 */
function thinkingProblem(body: Record<string, unknown>, messages: readonly unknown[]): string | undefined {
  const thinking = body.thinking;
  if (thinking === undefined) return undefined;
  const type = field(thinking, "type");
  if (type === "disabled") return undefined;
  if (type !== "enabled")
    return `thinking: Input tag '${String(type)}' found using 'type' does not match any of the expected tags: 'disabled', 'enabled'`;
  const budget = field(thinking, "budget_tokens");
  if (budget === undefined) return "thinking.enabled.budget_tokens: Field required";
  if (typeof budget !== "number" || !Number.isInteger(budget))
    return "thinking.enabled.budget_tokens: Input should be a valid integer";
  if (budget < 1024) return "thinking.enabled.budget_tokens: Input should be greater than or equal to 1024";
  if (typeof body.max_tokens === "number" && body.max_tokens <= budget)
    return `\`max_tokens\` must be greater than \`thinking.budget_tokens\`. ${THINKING_DOCS}#max-tokens-and-context-window-size`;
  if (body.temperature !== undefined && body.temperature !== 1)
    return `\`temperature\` may only be set to 1 when thinking is enabled. ${THINKING_DOCS}#feature-compatibility`;
  if (typeof body.top_p === "number" && body.top_p < 0.95)
    return `\`top_p\` must be greater than or equal to 0.95 or unset when thinking is enabled. ${THINKING_DOCS}#feature-compatibility`;
  if (body.top_k !== undefined)
    return `\`top_k\` must be unset when thinking is enabled. ${THINKING_DOCS}#feature-compatibility`;
  const choice = field(body.tool_choice, "type");
  if (choice === "any" || choice === "tool")
    return "Thinking may not be enabled when tool_choice forces tool use.";
  const last = messages[messages.length - 1];
  const continues =
    field(last, "role") === "user" &&
    (asArray(field(last, "content")) ?? []).some((block) => field(block, "type") === "tool_result");
  if (!continues) return undefined;
  for (let i = messages.length - 1; i >= 0; i--) {
    if (field(messages[i], "role") !== "assistant") continue;
    const content = field(messages[i], "content");
    const first = typeof content === "string" ? "text" : asString(field(asArray(content)?.[0], "type"));
    if (first === "thinking" || first === "redacted_thinking") return undefined;
    return (
      `messages.${i}.content.0.type: Expected \`thinking\` or \`redacted_thinking\`, but found \`${first}\`. ` +
      "When `thinking` is enabled, a final `assistant` message must start with a thinking block (preceeding " +
      "the lastmost set of `tool_use` and `tool_result` blocks). We recommend you include thinking blocks " +
      `from previous turns. To avoid this requirement, disable \`thinking\`. ${THINKING_DOCS}`
    );
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
  const breakpoints = cacheBreakpointCount(body);
  if (breakpoints > MAX_CACHE_BREAKPOINTS)
    return `A maximum of ${MAX_CACHE_BREAKPOINTS} blocks with cache_control may be provided. Found ${breakpoints}.`;
  return thinkingProblem(body, messages);
}
