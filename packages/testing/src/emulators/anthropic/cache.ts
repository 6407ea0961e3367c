import { asArray, asString, field, isRecord } from "../core/json.ts";
import { countTokens } from "../core/tokens.ts";

/** The Messages API refuses a request with more blocks carrying `cache_control`. */
export const MAX_CACHE_BREAKPOINTS = 4;

/** Prompt-cache counters of one request, as Anthropic reports them in `usage`. */
export interface CacheUsage {
  read: number;
  written: number;
  /** Of `written`, the tokens written to the 1-hour cache. */
  written1h: number;
}

/** The prefixes an emulator has cached: one key per breakpoint position ever written. */
export type PromptCache = Set<string>;

interface Block {
  /** What identifies the block in a prefix: the block without its breakpoint. */
  key: string;
  tokens: number;
  ttl: "5m" | "1h" | null;
}

function ttlOf(block: unknown): Block["ttl"] {
  const control = field(block, "cache_control");
  if (!isRecord(control)) return null;
  return control.ttl === "1h" ? "1h" : "5m";
}

/** Tokens as the emulator counts a prompt: text and tool-result text; tools, images and tool calls count none. */
function blockTokens(block: unknown): number {
  if (typeof block === "string") return countTokens(block);
  const type = field(block, "type");
  if (type === "text") return countTokens(asString(field(block, "text")) ?? "");
  if (type !== "tool_result") return 0;
  const inner = field(block, "content");
  if (typeof inner === "string") return countTokens(inner);
  return (asArray(inner) ?? []).reduce<number>((sum, b) => sum + blockTokens(b), 0);
}

function toBlock(raw: unknown): Block {
  const bare = isRecord(raw) ? { ...raw, cache_control: undefined } : raw;
  return { key: JSON.stringify(bare), tokens: blockTokens(raw), ttl: ttlOf(raw) };
}

function contentBlocks(content: unknown): readonly unknown[] {
  return typeof content === "string" ? [content] : (asArray(content) ?? []);
}

/** The prompt in the order Anthropic caches it: tools, system, then each message's blocks. */
function promptBlocks(body: unknown): Block[] {
  const blocks = [...(asArray(field(body, "tools")) ?? []), ...contentBlocks(field(body, "system"))].map(
    toBlock,
  );
  for (const message of asArray(field(body, "messages")) ?? []) {
    const role = asString(field(message, "role")) ?? "";
    for (const raw of contentBlocks(field(message, "content"))) {
      const block = toBlock(raw);
      blocks.push({ ...block, key: `${role}:${block.key}` });
    }
  }
  return blocks;
}

export function cacheBreakpointCount(body: unknown): number {
  return promptBlocks(body).filter((block) => block.ttl !== null).length;
}

/**
 * What Anthropic reports for a request with breakpoints: the longest prefix ending at a breakpoint that an
 * earlier request wrote is read; the rest up to the last breakpoint is written, each stretch to the cache
 * of the breakpoint that ends it. Every breakpoint's prefix is cached afterwards. Undefined without any.
 */
export function promptCacheUsage(body: unknown, cache: PromptCache): CacheUsage | undefined {
  let key = `${asString(field(body, "model")) ?? ""}\n`;
  let tokens = 0;
  const breakpoints: { key: string; tokens: number; ttl: "5m" | "1h" }[] = [];
  for (const block of promptBlocks(body)) {
    key += `${block.key}\n`;
    tokens += block.tokens;
    if (block.ttl) breakpoints.push({ key, tokens, ttl: block.ttl });
  }
  if (breakpoints.length === 0) return undefined;
  let hit = -1;
  breakpoints.forEach((breakpoint, i) => {
    if (cache.has(breakpoint.key)) hit = i;
  });
  const read = hit === -1 ? 0 : (breakpoints[hit]?.tokens ?? 0);
  let written = 0;
  let written1h = 0;
  let start = read;
  for (const breakpoint of breakpoints.slice(hit + 1)) {
    const stretch = Math.max(0, breakpoint.tokens - start);
    written += stretch;
    if (breakpoint.ttl === "1h") written1h += stretch;
    start = Math.max(start, breakpoint.tokens);
  }
  for (const breakpoint of breakpoints) cache.add(breakpoint.key);
  return { read, written, written1h };
}
