import type { ChatMessage, ContentPart, ToolCall } from "../../openai/requests.ts";
import { invalidField, parseDataUrl, parseToolArguments, textOf } from "../common.ts";
import type {
  AnthropicBlock,
  AnthropicImageBlock,
  AnthropicMessage,
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
  system: string[];
  messages: AnthropicMessage[];
} {
  const system: string[] = [];
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
      if (text) system.push(text);
    } else if (message.role === "user") {
      add("user", userBlocks(message.content, i));
    } else if (message.role === "assistant") {
      const calls = message.tool_calls ?? [];
      add("assistant", [
        ...textBlocks(textOf(message.content)),
        ...calls.map((call, j) => toolUseBlock(call, i, j)),
      ]);
    } else {
      const text = textOf(message.content);
      const block: AnthropicToolResultBlock = { type: "tool_result", tool_use_id: message.tool_call_id };
      if (text) block.content = text;
      add("user", [block]);
    }
  }
  return { system, messages: turns.map(toMessage) };
}

/** Anthropic rejects empty text blocks; an empty string carries nothing anyway. */
function textBlocks(text: string): AnthropicBlock[] {
  return text ? [{ type: "text", text }] : [];
}

function userBlocks(content: string | ContentPart[], i: number): AnthropicBlock[] {
  if (typeof content === "string") return textBlocks(content);
  return content.flatMap((part, j): AnthropicBlock[] => {
    const field = `messages[${i}].content[${j}]`;
    if (part.type === "text") return textBlocks(part.text);
    if (part.type === "image_url") return [imageBlock(part.image_url.url, `${field}.image_url.url`)];
    throw invalidField(field, "audio input is not supported by Anthropic models");
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
  if (blocks.length === 1 && only?.type === "text") return { role: turn.role, content: only.text };
  return { role: turn.role, content: blocks };
}
