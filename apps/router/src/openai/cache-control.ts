import { z } from "zod";
import type { ChatCompletionRequest, ChatMessage, FunctionTool } from "./requests.ts";

/**
 * Anthropic's prompt-cache breakpoint, accepted inside OpenAI-format requests as OpenRouter and LiteLLM do:
 * on a text or image part, on a whole message (its last content block) and on a function tool. Everything
 * up to and including the marked block is cached, for 5 minutes unless `ttl` asks for an hour.
 */
export const CacheControl = z.strictObject({
  type: z.literal("ephemeral"),
  ttl: z.enum(["5m", "1h"]).optional(),
});
export type CacheControl = z.infer<typeof CacheControl>;

/** Anthropic answers 400 beyond this many blocks with `cache_control` in one request. */
export const MAX_CACHE_BREAKPOINTS = 4;

export type CacheTtl = NonNullable<CacheControl["ttl"]>;

export interface CacheBreakpoint {
  /** Where the client set it, as a path into the request body. */
  path: (string | number)[];
  ttl: CacheTtl;
}

/** A breakpoint without `ttl` is a 5-minute one. */
export const ttlOf = (control: CacheControl): CacheTtl => control.ttl ?? "5m";

const isSystem = (message: ChatMessage): boolean => message.role === "system" || message.role === "developer";

/** A message's part breakpoints, then its own (it marks the message's last block). */
function messageBreakpoints(message: ChatMessage, i: number, into: CacheBreakpoint[]): void {
  if (Array.isArray(message.content)) {
    message.content.forEach((part, j) => {
      if ("cache_control" in part && part.cache_control)
        into.push({ path: ["messages", i, "content", j, "cache_control"], ttl: ttlOf(part.cache_control) });
    });
  }
  if (message.cache_control)
    into.push({ path: ["messages", i, "cache_control"], ttl: ttlOf(message.cache_control) });
}

/**
 * The request's breakpoints in the order Anthropic reads the prompt: tools, then the system prompt (system
 * and developer messages, wherever they stand), then the conversation.
 */
export function cacheBreakpoints(req: Pick<ChatCompletionRequest, "messages" | "tools">): CacheBreakpoint[] {
  // Most requests carry none: found without a closure or an array per message.
  if (!hasCacheControl(req.messages, req.tools)) return [];
  const out: CacheBreakpoint[] = [];
  req.tools?.forEach((tool, i) => {
    if (tool.cache_control) out.push({ path: ["tools", i, "cache_control"], ttl: ttlOf(tool.cache_control) });
  });
  req.messages.forEach((message, i) => {
    if (isSystem(message)) messageBreakpoints(message, i, out);
  });
  req.messages.forEach((message, i) => {
    if (!isSystem(message)) messageBreakpoints(message, i, out);
  });
  return out;
}

/** The highest cache-write rate a request's breakpoints can be billed: null without any breakpoint. */
export function cacheWriteTtl(req: Pick<ChatCompletionRequest, "messages" | "tools">): CacheTtl | null {
  const breakpoints = cacheBreakpoints(req);
  if (breakpoints.length === 0) return null;
  return breakpoints.some((b) => b.ttl === "1h") ? "1h" : "5m";
}

/**
 * Anthropic refuses a 1-hour breakpoint that comes after a 5-minute one in its reading order (a cached
 * prefix cannot outlive the shorter-lived prefix it extends): the first such breakpoint, or undefined.
 */
export function misorderedTtl(breakpoints: readonly CacheBreakpoint[]): CacheBreakpoint | undefined {
  const firstShort = breakpoints.findIndex((b) => b.ttl === "5m");
  if (firstShort === -1) return undefined;
  return breakpoints.slice(firstShort + 1).find((b) => b.ttl === "1h");
}

/** `messages.2.content.0.cache_control` → `messages[2].content[0].cache_control`, as adapters name fields. */
export function fieldName(path: readonly (string | number)[]): string {
  return path.map((p, k) => (typeof p === "number" ? `[${p}]` : k === 0 ? p : `.${p}`)).join("");
}

function withoutControl<T extends object>(value: T): T {
  if (!("cache_control" in value)) return value;
  const { cache_control: _, ...rest } = value as T & { cache_control?: unknown };
  return rest as T;
}

function marked(value: object): boolean {
  return "cache_control" in value && (value as { cache_control?: unknown }).cache_control !== undefined;
}

/** Whether any message, part or tool carries a breakpoint (without allocating: most requests carry none). */
function hasCacheControl(
  messages: readonly ChatMessage[],
  tools: readonly FunctionTool[] | undefined,
): boolean {
  for (const message of messages) {
    if (marked(message)) return true;
    if (Array.isArray(message.content)) for (const part of message.content) if (marked(part)) return true;
  }
  return tools?.some(marked) ?? false;
}

/**
 * The request without any breakpoint, for upstreams that do not take Anthropic's `cache_control` (OpenAI's
 * own API caches prompts automatically and may refuse fields it does not know); the request itself when it
 * has none, which is the hot path's case.
 */
export function withoutCacheControl<R extends Pick<ChatCompletionRequest, "messages" | "tools">>(req: R): R {
  if (!hasCacheControl(req.messages, req.tools)) return req;
  const { messages, tools } = req;
  return {
    ...req,
    messages: messages.map((message) => {
      const bare = withoutControl(message);
      if (!Array.isArray(bare.content)) return bare;
      return { ...bare, content: bare.content.map((part) => withoutControl(part)) } as ChatMessage;
    }),
    tools: tools?.map((tool) => withoutControl(tool)),
  };
}
