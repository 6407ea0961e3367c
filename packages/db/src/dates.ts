/**
 * PocketBase date fields read as "2026-11-23 10:00:00.000Z" (or "" when empty) and accept ISO 8601 on write.
 */
export function toPbDate(value: Date | number): string {
  return new Date(value).toISOString();
}

/** Epoch milliseconds of a PocketBase date, or null when the field is empty. */
export function pbDateToMs(value: string): number | null {
  if (!value) return null;
  const ms = Date.parse(value.includes("T") ? value : value.replace(" ", "T"));
  if (Number.isNaN(ms)) throw new RangeError(`not a PocketBase date: "${value}"`);
  return ms;
}
