// Every way a provider stream can arrive in pieces, for chunk-by-chunk translation tests.

/** Deterministic PRNG (mulberry32) so random splits are reproducible. */
function random(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * Every way to cut the text that matters: at each single position (mid-line, mid-JSON, between the two
 * halves of a surrogate pair), one character at a time, and seeded random multi-way cuts.
 */
export function splits(text: string): string[][] {
  const out: string[][] = [];
  for (let i = 0; i <= text.length; i++) out.push([text.slice(0, i), text.slice(i)]);
  out.push(Array.from({ length: text.length }, (_, i) => text.charAt(i)));
  const next = random(42);
  for (let run = 0; run < 50; run++) {
    const pieces: string[] = [];
    for (let at = 0; at < text.length; ) {
      const size = 1 + Math.floor(next() * 40);
      pieces.push(text.slice(at, at + size));
      at += size;
    }
    out.push(pieces);
  }
  return out;
}

/** The text as the router sees it: bytes cut at every position, decoded with a streaming TextDecoder. */
export function byteSplits(text: string): string[][] {
  const bytes = new TextEncoder().encode(text);
  const out: string[][] = [];
  for (let i = 0; i <= bytes.length; i++) {
    const decoder = new TextDecoder();
    out.push([
      decoder.decode(bytes.subarray(0, i), { stream: true }),
      decoder.decode(bytes.subarray(i), { stream: true }),
      decoder.decode(),
    ]);
  }
  return out;
}
