import type { QueueName, QueuePayload, QueuePayloadInput } from "@cloudfreedom/shared";
import { QUEUES } from "@cloudfreedom/shared";
import type { z } from "zod";

export interface PayloadIssue {
  /** Dotted path with array indexes, e.g. `tokens.input` or `spans[0].name`; `(root)` for the payload itself. */
  path: string;
  message: string;
}

export type PayloadParseResult<Q extends QueueName> =
  | { success: true; data: QueuePayload<Q> }
  | { success: false; issues: PayloadIssue[] };

/** Thrown by producers: the payload does not match the queue's schema, so nothing was enqueued. */
export class QueuePayloadError extends Error {
  override readonly name = "QueuePayloadError";
  constructor(
    readonly queue: QueueName,
    readonly issues: PayloadIssue[],
  ) {
    super(describePayloadIssues(queue, issues));
  }
}

export function payloadSchema<Q extends QueueName>(
  queue: Q,
): z.ZodType<QueuePayload<Q>, QueuePayloadInput<Q>> {
  // The map's entry for Q is exactly this schema; TypeScript cannot narrow the indexed union by itself.
  return QUEUES[queue].payload as unknown as z.ZodType<QueuePayload<Q>, QueuePayloadInput<Q>>;
}

export function formatIssuePath(path: ReadonlyArray<PropertyKey>): string {
  let out = "";
  for (const key of path) {
    if (typeof key === "number") out += `[${key}]`;
    else out += out === "" ? String(key) : `.${String(key)}`;
  }
  return out === "" ? "(root)" : out;
}

export function describePayloadIssues(queue: QueueName, issues: PayloadIssue[]): string {
  const details = issues.map((issue) => `${issue.path}: ${issue.message}`).join("; ");
  return `invalid payload for queue "${queue}": ${details}`;
}

export function parsePayload<Q extends QueueName>(queue: Q, data: unknown): PayloadParseResult<Q> {
  const result = payloadSchema(queue).safeParse(data);
  if (result.success) return { success: true, data: result.data };
  const issues = result.error.issues.map((issue) => ({
    path: formatIssuePath(issue.path),
    message: issue.message,
  }));
  return { success: false, issues };
}
