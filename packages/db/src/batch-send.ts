import { AppError } from "@cloudfreedom/shared";
import { ClientResponseError } from "pocketbase";
import type { DbLogger, PocketBaseClient } from "./client.ts";
import {
  type BatchFailure,
  batchFailure,
  fieldErrors,
  responseToAppError,
  toAppError,
  UNIQUE_VIOLATION,
} from "./errors.ts";
import { findExistingKeys } from "./existing-keys.ts";
import { backoffDelay, isRetryable, type RetryPolicy, sleep } from "./retry.ts";

export type WriteOutcome =
  | { status: "created"; id: string }
  /** A row with the same idempotency key already exists (an earlier flush, a retry, another writer). */
  | { status: "duplicate"; id: string }
  | { status: "failed"; error: AppError };

export interface PendingWrite<R> {
  record: R;
  /** Composite idempotency key (see `compositeKey`), null when the writer has none. */
  key: string | null;
  /** Resolves the write's promise; only the first call counts. */
  settle: (outcome: WriteOutcome) => void;
}

export interface BatchSendContext {
  client: PocketBaseClient;
  collection: string;
  keyFields: readonly string[];
  policy: RetryPolicy;
  logger?: DbLogger;
}

export const failed = (error: AppError): WriteOutcome => ({ status: "failed", error });

/**
 * Sends `entries` as batch create requests until every one is settled: created, duplicate or failed.
 * A PocketBase batch is one transaction whose error names only the first failing request; see
 * `createBatchWriter` for how that is turned into per-record outcomes.
 */
export async function sendBatch<R extends Record<string, unknown>>(
  ctx: BatchSendContext,
  entries: PendingWrite<R>[],
): Promise<void> {
  const { client, collection, policy, logger } = ctx;
  let remaining = entries;
  let attempt = 0;
  while (remaining.length > 0) {
    const current = remaining;
    try {
      const results = await client.callRaw((pb) => {
        const batch = pb.createBatch();
        for (const entry of current) batch.collection(collection).create(entry.record);
        return batch.send();
      });
      current.forEach((entry, i) => {
        const body: unknown = results[i]?.body;
        const id = typeof body === "object" && body !== null && "id" in body ? String(body.id) : "";
        entry.settle({ status: "created", id });
      });
      return;
    } catch (error) {
      const failure = batchFailure(error);
      const sessionRefused = failure !== null && (failure.status === 401 || failure.status === 403);
      if (failure && failure.status < 500 && !sessionRefused) {
        remaining = await settleRejected(ctx, current, failure, error);
        continue;
      }
      if (failure || isRetryable(error)) {
        attempt += 1;
        if (attempt < policy.attempts) {
          logger?.warn({ collection, attempt, size: current.length }, "batch write failed, retrying");
          if (sessionRefused) await client.authenticate().catch(() => undefined);
          await sleep(backoffDelay(policy, attempt));
          continue;
        }
      } else if (current.length > 1 && isUnindexedRejection(error)) {
        // No failing index (more requests than the server allows, transaction timeout): halve and retry.
        const half = Math.ceil(current.length / 2);
        await sendBatch(ctx, current.slice(0, half));
        remaining = current.slice(half);
        continue;
      }
      const mapped = wholeBatchError(error);
      for (const entry of current) entry.settle(failed(mapped));
      return;
    }
  }
}

/** One record failed the transaction: settle duplicates (if keyed) or fail that record; return the rest. */
async function settleRejected<R extends Record<string, unknown>>(
  { client, collection, keyFields }: BatchSendContext,
  entries: PendingWrite<R>[],
  failure: BatchFailure,
  error: unknown,
): Promise<PendingWrite<R>[]> {
  const culprit = entries[failure.index];
  const rejection = responseToAppError(failure.status, failure.body, error);
  const notUnique = new Set(
    fieldErrors(failure.body).flatMap((f) => (f.code === UNIQUE_VIOLATION ? [f.field] : [])),
  );
  const violatesKey = keyFields.length > 0 && keyFields.every((field) => notUnique.has(field));
  if (!culprit) {
    for (const entry of entries) entry.settle(failed(rejection));
    return [];
  }
  if (!violatesKey) {
    culprit.settle(failed(rejection));
    return entries.filter((entry) => entry !== culprit);
  }
  const keyed = entries.flatMap((entry) => (entry.key === null ? [] : [entry.record]));
  const existing = await findExistingKeys(client, collection, keyFields, keyed);
  const rest: PendingWrite<R>[] = [];
  for (const entry of entries) {
    const id = entry.key === null ? undefined : existing.get(entry.key);
    if (id !== undefined) entry.settle({ status: "duplicate", id });
    else if (entry === culprit) entry.settle(failed(rejection));
    else rest.push(entry);
  }
  return rest;
}

function isUnindexedRejection(error: unknown): boolean {
  return error instanceof ClientResponseError && (error.status === 400 || error.status === 413);
}

function wholeBatchError(error: unknown): AppError {
  if (error instanceof ClientResponseError && error.status === 403) {
    const appError = new AppError("internal_error", "PocketBase refused the batch request.");
    appError.cause = new Error(`enable Settings → Batch in PocketBase (got 403 ${error.message})`);
    return appError;
  }
  return toAppError(error);
}
