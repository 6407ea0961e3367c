/** Narrowing helpers for request bodies, which arrive as `unknown`. */
export type JsonRecord = Record<string, unknown>;

export function isRecord(value: unknown): value is JsonRecord {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

export function field(value: unknown, key: string): unknown {
  return isRecord(value) ? value[key] : undefined;
}

export function asString(value: unknown): string | undefined {
  return typeof value === "string" ? value : undefined;
}

export function asNumber(value: unknown): number | undefined {
  return typeof value === "number" && Number.isFinite(value) ? value : undefined;
}

export function asArray(value: unknown): readonly unknown[] | undefined {
  return Array.isArray(value) ? value : undefined;
}

/** A `stop` parameter as providers accept it: one string or a list of strings. */
export function stopList(value: unknown): string[] {
  if (typeof value === "string") return value === "" ? [] : [value];
  const list = asArray(value);
  if (!list) return [];
  const out: string[] = [];
  for (const item of list) if (typeof item === "string" && item !== "") out.push(item);
  return out;
}
