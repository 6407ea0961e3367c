import { AppError } from "@cloudfreedom/shared";
import { ClientResponseError } from "pocketbase";
import { z } from "zod";
import { failed, type WriteOutcome } from "./batch-send.ts";
import type { DbLogger, PocketBaseClient } from "./client.ts";
import { responseToAppError, toAppError } from "./errors.ts";
import { backoffDelay, isRetryable, type RetryPolicy, sleep } from "./retry.ts";

/** The most records the route accepts in one request (infra/pocketbase/bulk.go). */
export const BULK_INSERT_MAX_RECORDS = 5_000;

export interface BulkInsertOptions<R extends Record<string, unknown>> {
  /**
   * The field(s) of a unique index, e.g. `["tenant", "event_id"]` for usage_logs. A record whose key already
   * has a row (or appeared earlier in the input) is `duplicate` with that row's id, and nothing is written.
   */
  uniqueBy?: ReadonlyArray<keyof R & string>;
  /** Records per request, 1 to 5,000. Default 1,000. */
  chunkSize?: number;
  retry?: Partial<RetryPolicy>;
  logger?: DbLogger;
}

const BulkResult = z.discriminatedUnion("status", [
  z.object({ status: z.literal("created"), id: z.string() }),
  z.object({ status: z.literal("duplicate"), id: z.string() }),
  z.object({
    status: z.literal("failed"),
    code: z.string(),
    message: z.string(),
    data: z.record(z.string(), z.unknown()).optional(),
  }),
]);
type BulkResult = z.infer<typeof BulkResult>;

const BulkResponse = z.object({ results: z.array(BulkResult) });

/**
 * Creates `records` in `collection` through `POST /api/cloudfreedom/bulk/{collection}`: one transaction per
 * chunk with PocketBase's field validation, no HTTP sub-request per record and, for collections without file
 * or password fields, no per-record Save (multi-row INSERTs), so it writes many times faster than the batch
 * API. On that fast path, record hooks and realtime events do not fire (infra/pocketbase/bulk_fast.go).
 * Resolves with one outcome per record, in input order, and never rejects for a write failure: a record
 * PocketBase rejects is `failed` with its validation error, and a chunk whose request still fails after the
 * retries has every record `failed`.
 *
 * A failure of the whole request (unreachable, timeout, 429, 5xx) is retried with backoff. That is safe only
 * because `uniqueBy` makes the request idempotent: when a chunk was committed but its answer was lost, the
 * retry finds every key written and answers `duplicate` with the original ids. Without `uniqueBy`, such a
 * retry writes the chunk twice (at-least-once).
 */
export async function bulkInsert<R extends Record<string, unknown>>(
  client: PocketBaseClient,
  collection: string,
  records: readonly R[],
  options: BulkInsertOptions<R> = {},
): Promise<WriteOutcome[]> {
  const chunkSize = options.chunkSize ?? 1_000;
  if (!Number.isInteger(chunkSize) || chunkSize < 1 || chunkSize > BULK_INSERT_MAX_RECORDS) {
    throw new RangeError(
      `chunkSize must be an integer from 1 to ${BULK_INSERT_MAX_RECORDS}, got ${chunkSize}`,
    );
  }
  const policy: RetryPolicy = { attempts: 5, baseDelayMs: 200, maxDelayMs: 5_000, ...options.retry };
  const request = { client, collection, uniqueBy: options.uniqueBy ?? [], policy, logger: options.logger };
  const outcomes: WriteOutcome[] = [];
  // One chunk at a time: the server writes through a single connection anyway, and a later chunk must see
  // the keys an earlier one wrote.
  for (let start = 0; start < records.length; start += chunkSize) {
    outcomes.push(...(await sendChunk(request, records.slice(start, start + chunkSize))));
  }
  const failures = outcomes.filter((outcome) => outcome.status === "failed").length;
  if (failures > 0) {
    options.logger?.warn({ collection, failed: failures }, "bulk insert left records unwritten");
  }
  return outcomes;
}

interface ChunkRequest {
  client: PocketBaseClient;
  collection: string;
  uniqueBy: readonly string[];
  policy: RetryPolicy;
  logger?: DbLogger;
}

async function sendChunk(request: ChunkRequest, chunk: readonly Record<string, unknown>[]) {
  const { client, collection, uniqueBy, policy, logger } = request;
  const path = `/api/cloudfreedom/bulk/${encodeURIComponent(collection)}`;
  const body = uniqueBy.length > 0 ? { unique_by: uniqueBy, records: chunk } : { records: chunk };
  for (let attempt = 1; ; attempt++) {
    try {
      const response: unknown = await client.callRaw((pb) => pb.send(path, { method: "POST", body }));
      const parsed = BulkResponse.safeParse(response);
      if (!parsed.success || parsed.data.results.length !== chunk.length) {
        const unexpected = new AppError(
          "internal_error",
          "PocketBase answered the bulk insert unexpectedly.",
        );
        unexpected.cause = parsed.success
          ? new Error("result count differs from the record count")
          : parsed.error;
        return chunk.map(() => failed(unexpected));
      }
      return parsed.data.results.map(toOutcome);
    } catch (error) {
      if (isRetryable(error) && attempt < policy.attempts) {
        logger?.warn({ collection, attempt, size: chunk.length }, "bulk insert failed, retrying");
        await sleep(backoffDelay(policy, attempt));
        continue;
      }
      const mapped = requestError(error, collection);
      return chunk.map(() => failed(mapped));
    }
  }
}

function toOutcome(result: BulkResult): WriteOutcome {
  if (result.status !== "failed") return result;
  if (result.code === "validation_failed") {
    return failed(responseToAppError(400, { message: result.message, data: result.data ?? {} }));
  }
  return failed(new AppError("internal_error", result.message));
}

function requestError(error: unknown, collection: string): AppError {
  if (error instanceof ClientResponseError && error.status === 404) {
    const missing = new AppError("not_found", `Collection "${collection}" was not found.`);
    // An older PocketBase build without the route answers 404 too.
    missing.cause = error;
    return missing;
  }
  return toAppError(error);
}
