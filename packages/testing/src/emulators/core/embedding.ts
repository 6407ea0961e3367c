/**
 * A deterministic unit vector for a text: FNV-1a of the text seeds a xorshift32 generator. Values are
 * float32-exact, so the base64 (float32 little-endian) encoding decodes back to the same numbers.
 */
export function embedText(text: string, dimensions: number): number[] {
  let hash = 2166136261;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 16777619);
  }
  let state = hash >>> 0 || 1;
  const values = new Array<number>(dimensions);
  let norm = 0;
  for (let i = 0; i < dimensions; i++) {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    state >>>= 0;
    const value = (state / 4294967296) * 2 - 1;
    values[i] = value;
    norm += value * value;
  }
  const scale = norm > 0 ? 1 / Math.sqrt(norm) : 0;
  for (let i = 0; i < dimensions; i++) values[i] = Math.fround((values[i] ?? 0) * scale);
  return values;
}

export function float32Base64(values: readonly number[]): string {
  const floats = Float32Array.from(values);
  return Buffer.from(floats.buffer, floats.byteOffset, floats.byteLength).toString("base64");
}
