import type { PocketBaseClient } from "./client.ts";

/** PocketBase rejects a filter longer than 3,500 characters (tools/search MaxFilterLength); stay well under. */
const MAX_FILTER_LENGTH = 3_000;

/** The values of `fields` in `record` as one comparable string, or null when any is missing. */
export function compositeKey(fields: readonly string[], record: Record<string, unknown>): string | null {
  const values: Array<string | number> = [];
  for (const field of fields) {
    const value = record[field];
    if (typeof value !== "string" && typeof value !== "number") return null;
    values.push(value);
  }
  return JSON.stringify(values);
}

/** `(a = {:v} && b = {:w}) || …` filters, bound by the SDK, each under PocketBase's length limit. */
export function keyFilters(
  client: Pick<PocketBaseClient, "filter">,
  fields: readonly string[],
  records: Array<Record<string, unknown>>,
): string[] {
  const filters: string[] = [];
  let parts: string[] = [];
  let length = 0;
  for (const record of records) {
    const terms = fields.map((field) => client.filter(`${field} = {:value}`, { value: record[field] }));
    const part = terms.length === 1 ? (terms[0] ?? "") : `(${terms.join(" && ")})`;
    if (parts.length > 0 && length + part.length + 4 > MAX_FILTER_LENGTH) {
      filters.push(parts.join(" || "));
      parts = [];
      length = 0;
    }
    parts.push(part);
    length += part.length + 4;
  }
  if (parts.length > 0) filters.push(parts.join(" || "));
  return filters;
}

type KeyRow = { id: string } & Record<string, unknown>;

/** Which of `records` already have a row with the same `fields` values: composite key → that row's id. */
export async function findExistingKeys(
  client: PocketBaseClient,
  collection: string,
  fields: readonly string[],
  records: Array<Record<string, unknown>>,
): Promise<Map<string, string>> {
  const found = new Map<string, string>();
  for (const filter of keyFilters(client, fields, records)) {
    const rows = await client.callRaw((pb) =>
      pb
        .collection<KeyRow>(collection)
        .getFullList({ filter, fields: ["id", ...fields].join(","), batch: 1_000 }),
    );
    for (const row of rows) {
      const key = compositeKey(fields, row);
      if (key !== null) found.set(key, row.id);
    }
  }
  return found;
}
