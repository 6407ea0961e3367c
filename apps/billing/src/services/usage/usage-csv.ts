import { formatMicros } from "@cloudfreedom/shared";
import type { UsageSummary } from "./summarize-usage.ts";

const HEADER = [
  "period",
  "day",
  "model",
  "key_id",
  "requests",
  "failed_requests",
  "input_tokens",
  "cached_input_tokens",
  "output_tokens",
  "cost",
  "billed",
  "cost_micros",
  "billed_micros",
  // Added after the others, so that readers of the earlier columns by position keep working.
  "cache_write_tokens",
];

/** RFC 4180 field: quoted when it holds a comma, quote or line break; a leading =+-@ is defused for spreadsheets. */
export function csvField(value: string | number): string {
  let text = String(value);
  if (typeof value === "string" && /^[=+\-@\t\r]/.test(text)) text = `'${text}`;
  return /[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

/** The summary's finest rows (day × model × key) as CSV, amounts both as decimals and as micro-units. */
export function usageSummaryCsv(summary: UsageSummary): string {
  const lines = [HEADER.join(",")];
  for (const row of summary.rows) {
    lines.push(
      [
        summary.period,
        row.day,
        row.model,
        row.key_id ?? "",
        row.requests,
        row.failed_requests,
        row.input_tokens,
        row.cached_input_tokens,
        row.output_tokens,
        formatMicros(row.cost_micros),
        formatMicros(row.billed_micros),
        row.cost_micros,
        row.billed_micros,
        row.cache_write_tokens,
      ]
        .map(csvField)
        .join(","),
    );
  }
  return `${lines.join("\r\n")}\r\n`;
}
