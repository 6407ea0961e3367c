import { isRecord } from "../common.ts";

/**
 * The JSON Schema keywords Gemini's `parametersJsonSchema` / `responseJsonSchema` support (the API reference
 * lists exactly these; anything else is ignored at best and rejected at worst, e.g. `$schema`).
 */
const SUPPORTED = new Set([
  "$id",
  "$defs",
  "$ref",
  "$anchor",
  "type",
  "format",
  "title",
  "description",
  "enum",
  "items",
  "prefixItems",
  "minItems",
  "maxItems",
  "minimum",
  "maximum",
  "anyOf",
  "oneOf",
  "properties",
  "additionalProperties",
  "required",
  "propertyOrdering",
]);
/** Keywords whose value maps names to subschemas, holds a list of subschemas, or is one subschema. */
const SCHEMA_MAPS = new Set(["properties", "$defs"]);
const SCHEMA_LISTS = new Set(["anyOf", "oneOf", "prefixItems"]);
const SCHEMA_VALUES = new Set(["items", "additionalProperties"]);

/**
 * An OpenAI tool or response JSON Schema reduced to what Gemini takes. `const` becomes a one-value `enum`;
 * draft-07 `definitions` (zod-to-json-schema) become `$defs`, with their `$ref`s rewritten.
 */
export function toGeminiSchema(schema: unknown): unknown {
  if (!isRecord(schema)) return schema;
  const out: Record<string, unknown> = {};
  for (const [rawKey, value] of Object.entries(schema)) {
    const key = rawKey === "definitions" ? "$defs" : rawKey;
    if (key === "const" && !("enum" in schema)) out.enum = [value];
    else if (SUPPORTED.has(key)) out[key] = keywordValue(key, value);
  }
  return out;
}

function keywordValue(key: string, value: unknown): unknown {
  if (SCHEMA_MAPS.has(key) && isRecord(value)) {
    return Object.fromEntries(Object.entries(value).map(([name, sub]) => [name, toGeminiSchema(sub)]));
  }
  if (SCHEMA_LISTS.has(key) && Array.isArray(value)) return value.map(toGeminiSchema);
  if (SCHEMA_VALUES.has(key)) return toGeminiSchema(value);
  if (key === "$ref" && typeof value === "string") return value.replace(/^#\/definitions\//, "#/$defs/");
  return value;
}
