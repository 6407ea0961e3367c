import { closeSync, openSync, readSync } from "node:fs";
import { createRequire } from "node:module";
import { O200K_TOKEN_SPLIT_REGEX } from "gpt-tokenizer/encodingParams/constants";

/**
 * Token counting with OpenAI's o200k BPE, in ~2.4 MB. The ranks are read from the tokenizer package's
 * `.tiktoken` file into two flat typed arrays (the tokens' bytes end to end, and an open-addressing hash table
 * over them) instead of a JS Map of 200k strings: gpt-tokenizer's own tables add ~58 MB to the router's RSS.
 * They load with the first request a client cuts (its prompt is counted) or the first usage a provider does
 * not report. Counts are the same (tested against gpt-tokenizer); only counting is offered, the router never
 * needs the ids.
 *
 * Every byte of these tables counts twice in a busy router's memory: once as itself and again through
 * JavaScriptCore's heap growth, which lets the heap grow to twice what it keeps, typed arrays' contents
 * included. The first version (bytes, offsets, ranks and a table of indices, 5 MB) made the router's peak RSS
 * ~20 MB higher once loaded (bench/router, runs with and without it: 155–159 against 136–138 MB); with
 * these 2.4 MB, 139–149 MB in 8 runs and 154 in the fastest. Counting is as fast (~330 µs per 1,000 tokens).
 */
interface Ranks {
  /**
   * The tokens' bytes end to end in rank order (the file lists them so, rank 0 first): a token's offset in
   * here orders tokens as their ranks do, which is all byte pair merging needs of a rank.
   */
  bytes: Uint8Array;
  /** Slot → offset × 256 + length + 1 of the token hashed there (tokens are at most 255 bytes); 0 = empty. */
  table: Uint32Array;
  mask: number;
}

let loaded: Ranks | undefined;

function fnv1a(bytes: Uint8Array, start: number, end: number): number {
  let hash = 0x811c9dc5;
  for (let i = start; i < end; i++) hash = Math.imul(hash ^ (bytes[i] as number), 0x01000193);
  return hash >>> 0;
}

const BASE64 = new Int8Array(128).fill(-1);
for (const [i, c] of [..."ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"].entries())
  BASE64[c.charCodeAt(0)] = i;

/** Every byte of the file at `path`, read 64 KB at a time (the 3.6 MB file is never held whole). */
function forEachByte(path: string, visit: (byte: number) => void): void {
  const fd = openSync(path, "r");
  try {
    const chunk = new Uint8Array(64 * 1024);
    for (let read = readSync(fd, chunk); read > 0; read = readSync(fd, chunk))
      for (let i = 0; i < read; i++) visit(chunk[i] as number);
  } finally {
    closeSync(fd);
  }
}

/**
 * The `.tiktoken` file (one `<base64 token> <rank>` per line, in rank order) decoded straight from its bytes
 * into two typed arrays (the bytes' one of exactly its size: a first pass measures): no string or buffer per token.
 */
function loadRanks(): Ranks {
  const path = createRequire(import.meta.url).resolve("gpt-tokenizer/data/o200k_base.tiktoken");
  // Pass 1: how many tokens, and how many bytes they decode to (6 bits per base64 digit, padding aside).
  let count = 0;
  let total = 0;
  let digits = 0;
  let inToken = true;
  const endLine = () => {
    if (digits > 0) count++;
    total += (digits * 6) >> 3;
    digits = 0;
    inToken = true;
  };
  forEachByte(path, (byte) => {
    if (byte === 0x0a) endLine();
    else if (byte === 0x20) inToken = false;
    else if (inToken && (BASE64[byte] ?? -1) >= 0) digits++;
  });
  endLine();
  // Pass 2: the tokens' bytes end to end, each entered in the table as it ends. A table of 2^18 slots for
  // ~200k tokens (1 MB, 76 % full): a missed lookup probes ~9.6 slots (~1.8 with twice the slots, for 1 MB
  // more), yet counting measured as fast as with the old 2 MB table of indices, which read two more arrays
  // per probe.
  const bytes = new Uint8Array(total);
  let size = 1;
  while (size < count * 1.25) size *= 2;
  const table = new Uint32Array(size);
  const mask = size - 1;
  let t = 0;
  let at = 0;
  let from = 0;
  let bits = 0;
  let held = 0;
  let rank = 0;
  inToken = true;
  const closeLine = () => {
    if (at > from && t < count) {
      if (rank !== t || at - from > 255 || from >= 2 ** 24)
        throw new Error(
          `${path}: token ${t} (rank ${rank}, ${at - from} bytes): the tables need tokens in rank order, of at most 255 bytes, within the first 16 MB`,
        );
      let slot = fnv1a(bytes, from, at) & mask;
      while (table[slot] !== 0) slot = (slot + 1) & mask;
      table[slot] = from * 256 + (at - from) + 1;
      t++;
    }
    from = at;
    bits = 0;
    held = 0;
    rank = 0;
    inToken = true;
  };
  forEachByte(path, (byte) => {
    if (byte === 0x0a) closeLine();
    else if (byte === 0x20) inToken = false;
    else if (!inToken) rank = rank * 10 + (byte - 0x30);
    else {
      const value = BASE64[byte] ?? -1;
      if (value < 0) return; // "=" padding
      bits = ((bits << 6) | value) & 0xffff;
      held += 6;
      if (held >= 8) {
        held -= 8;
        bytes[at++] = (bits >> held) & 0xff;
      }
    }
  });
  closeLine();
  return { bytes, table, mask };
}

/**
 * The token `piece[start..end)` as a number ordered like its rank (its offset in `bytes`), or -1 when it is
 * no token.
 */
function rankOf(r: Ranks, piece: Uint8Array, start: number, end: number): number {
  const length = end - start;
  let slot = fnv1a(piece, start, end) & r.mask;
  for (let entry = r.table[slot] as number; entry !== 0; entry = r.table[slot] as number) {
    if (((entry - 1) & 0xff) === length) {
      const from = Math.floor((entry - 1) / 256);
      let same = true;
      for (let k = 0; k < length && same; k++) same = r.bytes[from + k] === piece[start + k];
      if (same) return from;
    }
    slot = (slot + 1) & r.mask;
  }
  return -1;
}

/**
 * A piece longer than this many bytes (a run of letters with no space, a blob) is counted in chunks of it:
 * byte pair merging is quadratic in a piece's length (tiktoken's too), and an estimate must not hold the event
 * loop for seconds on a 50 KB word. Merges across a chunk's edge are lost, a fraction of a per cent more tokens.
 */
const MAX_PIECE_BYTES = 512;

/**
 * Tokens of `piece[from..to)`: byte pair merges, lowest rank first (leftmost on a tie), as tiktoken does, with
 * each adjacent pair's rank kept and only a merge's neighbours looked up again.
 */
function mergedTokens(r: Ranks, piece: Uint8Array, from: number, to: number): number {
  const length = to - from;
  if (length <= 1 || rankOf(r, piece, from, to) >= 0) return length === 0 ? 0 : 1;
  // Part k spans piece[starts[k] .. starts[k + 1]); pairRank[k] is the rank of parts k and k + 1 merged.
  const starts: number[] = [];
  for (let i = from; i <= to; i++) starts.push(i);
  const pairRank = (k: number): number =>
    k + 2 < starts.length ? rankOf(r, piece, starts[k] as number, starts[k + 2] as number) : -1;
  const ranks: number[] = [];
  for (let k = 0; k + 1 < starts.length; k++) ranks.push(pairRank(k));
  for (;;) {
    let best = -1;
    let bestRank = Number.POSITIVE_INFINITY;
    for (let k = 0; k < ranks.length; k++) {
      const rank = ranks[k] as number;
      if (rank >= 0 && rank < bestRank) {
        bestRank = rank;
        best = k;
      }
    }
    if (best < 0) break;
    starts.splice(best + 1, 1);
    ranks.splice(best + 1, 1);
    ranks[best] = pairRank(best);
    if (best > 0) ranks[best - 1] = pairRank(best - 1);
  }
  return starts.length - 1;
}

/** Tokens of one pre-split piece of `length` bytes, long ones in chunks (see MAX_PIECE_BYTES). */
function pieceTokens(r: Ranks, piece: Uint8Array, length: number): number {
  let count = 0;
  for (let from = 0; from < length; from += MAX_PIECE_BYTES)
    count += mergedTokens(r, piece, from, Math.min(length, from + MAX_PIECE_BYTES));
  return count;
}

const encoder = new TextEncoder();
let scratch = new Uint8Array(256);

/** Tokens of `text` with o200k (special tokens counted as the text they are made of). */
export function countO200kTokens(text: string): number {
  if (!text) return 0;
  loaded ??= loadRanks();
  let count = 0;
  for (const match of text.matchAll(O200K_TOKEN_SPLIT_REGEX)) {
    const piece = match[0];
    if (scratch.length < piece.length * 3) scratch = new Uint8Array(piece.length * 3);
    const { written } = encoder.encodeInto(piece, scratch);
    count += pieceTokens(loaded, scratch, written);
  }
  return count;
}
