/**
 * The emulators' tokenizer. One token is either a run of letters, digits and underscores, or one single
 * character that is neither such a character nor whitespace (punctuation, symbols, emoji code points).
 * Whitespace is never a token. `countTokens("Echo: hello, world!")` is 6: `Echo` `:` `hello` `,` `world` `!`.
 */
const TOKEN_SOURCE = "[\\p{L}\\p{N}_]+|[^\\s\\p{L}\\p{N}_]";
const tokenPattern = new RegExp(TOKEN_SOURCE, "gu");

/** Tokens per streamed content chunk. */
export const TOKENS_PER_CHUNK = 3;

export function countTokens(text: string): number {
  if (text === "") return 0;
  tokenPattern.lastIndex = 0;
  let count = 0;
  while (tokenPattern.exec(text) !== null) count++;
  return count;
}

/** Sum of `countTokens` over several texts. */
export function countAll(texts: readonly string[]): number {
  let total = 0;
  for (const text of texts) total += countTokens(text);
  return total;
}

/** Keeps the first `max` tokens of `text` (with the whitespace between them). */
export function truncateTokens(text: string, max: number): { text: string; truncated: boolean } {
  tokenPattern.lastIndex = 0;
  let count = 0;
  let match = tokenPattern.exec(text);
  while (match !== null) {
    if (count === max) return { text: text.slice(0, match.index).trimEnd(), truncated: true };
    count++;
    match = tokenPattern.exec(text);
  }
  return { text, truncated: false };
}

/**
 * Splits `text` into pieces of `TOKENS_PER_CHUNK` tokens; each piece carries the whitespace that precedes
 * its first token, so the pieces concatenate back to `text` exactly.
 */
export function splitChunks(text: string, tokensPerChunk = TOKENS_PER_CHUNK): string[] {
  const chunks: string[] = [];
  tokenPattern.lastIndex = 0;
  let start = 0;
  let count = 0;
  let match = tokenPattern.exec(text);
  while (match !== null) {
    count++;
    if (count % tokensPerChunk === 0) {
      const end = match.index + match[0].length;
      chunks.push(text.slice(start, end));
      start = end;
    }
    match = tokenPattern.exec(text);
  }
  if (start < text.length) chunks.push(text.slice(start));
  return chunks;
}
