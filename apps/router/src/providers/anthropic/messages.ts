import { type CacheControl, ttlOf } from "../../openai/cache-control.ts";
import type { ChatMessage, ContentPart, ToolCall } from "../../openai/requests.ts";
import { invalidField, parseDataUrl, parseToolArguments, textOf } from "../common.ts";
import type {
  AnthropicBlock,
  AnthropicCacheControl,
  AnthropicImageBlock,
  AnthropicMessage,
  AnthropicTextBlock,
  AnthropicToolResultBlock,
  AnthropicToolUseBlock,
} from "./wire.ts";

const IMAGE_MEDIA_TYPES = new Set(["image/jpeg", "image/png", "image/gif", "image/webp"]);

interface Turn {
  role: AnthropicMessage["role"];
  blocks: AnthropicBlock[];
}

/**
 * OpenAI messages → Anthropic's `system` plus alternating turns. System and developer messages go to the
 * top-level system prompt wherever they appear; tool results become user turns; consecutive turns of one
 * role are merged, so parallel tool results land in a single user turn.
 */
export function toAnthropicMessages(messages: ChatMessage[]): {
  system: AnthropicTextBlock[];
  messages: AnthropicMessage[];
} {
  const system: AnthropicTextBlock[] = [];
  const turns: Turn[] = [];
  const add = (role: Turn["role"], blocks: AnthropicBlock[]): void => {
    if (blocks.length === 0) return;
    const last = turns[turns.length - 1];
    if (last && last.role === role) last.blocks.push(...blocks);
    else turns.push({ role, blocks });
  };

  for (const [i, message] of messages.entries()) {
    if (message.role === "system" || message.role === "developer") {
      const text = textOf(message.content);
      if (text) system.push(marked({ type: "text", text }, joinedControl(message)));
    } else if (message.role === "user") {
      add("user", markLast(userBlocks(message.content, i), message.cache_control));
    } else if (message.role === "assistant") {
      const calls = message.tool_calls ?? [];
      const text = textBlocks(textOf(message.content)).map((b) => marked(b, partsControl(message.content)));
      add(
        "assistant",
        markLast([...text, ...calls.map((call, j) => toolUseBlock(call, i, j))], message.cache_control),
      );
    } else {
      const text = textOf(message.content);
      const block: AnthropicToolResultBlock = { type: "tool_result", tool_use_id: message.tool_call_id };
      if (text) block.content = text;
      add("user", [marked(block, joinedControl(message))]);
    }
  }
  return { system, messages: turns.map(toMessage) };
}

function anthropicControl(control: CacheControl): AnthropicCacheControl {
  return control.ttl ? { type: "ephemeral", ttl: control.ttl } : { type: "ephemeral" };
}

function marked<T extends AnthropicBlock>(block: T, control: CacheControl | undefined): T {
  if (control) block.cache_control = anthropicControl(control);
  return block;
}

/** Of several breakpoints that land on one block, the 1-hour one (the longer-lived cache) wins. */
function strongest(controls: readonly (CacheControl | undefined)[]): CacheControl | undefined {
  const set = controls.filter((c): c is CacheControl => c !== undefined);
  return set.find((c) => ttlOf(c) === "1h") ?? set[0];
}

function partsControl(content: ChatMessage["content"] | undefined): CacheControl | undefined {
  if (!Array.isArray(content)) return undefined;
  return strongest(content.map((part) => ("cache_control" in part ? part.cache_control : undefined)));
}

/**
 * System, developer and tool messages become one block each (their parts are joined), which carries any
 * breakpoint set on the message or on one of its parts.
 */
function joinedControl(message: ChatMessage): CacheControl | undefined {
  return strongest([message.cache_control, partsControl(message.content)]);
}

/** A message's own breakpoint marks its last block (LiteLLM's convention); a message without blocks has none. */
function markLast(blocks: AnthropicBlock[], control: CacheControl | undefined): AnthropicBlock[] {
  const last = blocks[blocks.length - 1];
  if (last && control) marked(last, strongest([control, last.cache_control]));
  return blocks;
}

/** Anthropic rejects empty text blocks; an empty string carries nothing anyway. */
function textBlocks(text: string): AnthropicBlock[] {
  return text ? [{ type: "text", text }] : [];
}

function userBlocks(content: string | ContentPart[], i: number): AnthropicBlock[] {
  if (typeof content === "string") return textBlocks(content);
  return content.flatMap((part, j): AnthropicBlock[] => {
    if (part.type === "text") return textBlocks(part.text).map((block) => marked(block, part.cache_control));
    const field = `messages[${i}].content[${j}].image_url.url`;
    return [marked(imageBlock(part.image_url.url, field), part.cache_control)];
  });
}

function imageBlock(url: string, field: string): AnthropicImageBlock {
  if (/^https?:\/\//i.test(url)) return { type: "image", source: { type: "url", url } };
  const parsed = parseDataUrl(url);
  if (!parsed)
    throw invalidField(field, "must be an http(s) URL or a base64 data URL (data:image/png;base64,…)");
  if (!IMAGE_MEDIA_TYPES.has(parsed.mediaType)) {
    throw invalidField(
      field,
      `${parsed.mediaType} is not supported by Anthropic models (jpeg, png, gif or webp)`,
    );
  }
  return { type: "image", source: { type: "base64", media_type: parsed.mediaType, data: parsed.data } };
}

function toolUseBlock(call: ToolCall, i: number, j: number): AnthropicToolUseBlock {
  const input = parseToolArguments(
    call.function.arguments,
    `messages[${i}].tool_calls[${j}].function.arguments`,
  );
  return { type: "tool_use", id: call.id, name: call.function.name, input };
}

function toMessage(turn: Turn): AnthropicMessage {
  // In a user turn the tool results must come before any other content.
  const blocks =
    turn.role === "user"
      ? [
          ...turn.blocks.filter((b) => b.type === "tool_result"),
          ...turn.blocks.filter((b) => b.type !== "tool_result"),
        ]
      : turn.blocks;
  const [only] = blocks;
  // The string form has nowhere to carry a breakpoint.
  if (blocks.length === 1 && only?.type === "text" && !only.cache_control)
    return { role: turn.role, content: only.text };
  return { role: turn.role, content: blocks };
}
