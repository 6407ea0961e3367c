import { batchFailure, type Db, toPbDate } from "@cloudfreedom/db";
import { withLock } from "@cloudfreedom/queue";
import type { Logger } from "@cloudfreedom/service-kit";
import { redisKeys } from "@cloudfreedom/shared";
import type { Redis } from "ioredis";

const LOCK_KEY = "cf:auth:last-used-lock";
const RECORD_ID = /^[a-z0-9_]{3,64}$/;

export interface FlushDeps {
  db: Db;
  redis: Redis;
  logger: Logger;
  batchSize: number;
}

export interface FlushResult {
  written: number;
  /** Members that name no key any more (deleted rows) or are not record ids. */
  dropped: number;
}

/** One PocketBase batch (one transaction); a 404 drops that key and resends the rest. */
async function writeBatch(deps: FlushDeps, entries: Array<[id: string, ms: number]>): Promise<FlushResult> {
  let pending = entries;
  let dropped = 0;
  while (pending.length > 0) {
    try {
      await deps.db.client.callRaw((pb) => {
        const batch = pb.createBatch();
        for (const [id, ms] of pending)
          batch.collection("api_keys").update(id, { last_used_at: toPbDate(ms) });
        return batch.send();
      });
      return { written: pending.length, dropped };
    } catch (error) {
      const failure = batchFailure(error);
      if (failure?.status !== 404) throw error;
      pending = pending.filter((_, index) => index !== failure.index);
      dropped += 1;
    }
  }
  return { written: 0, dropped };
}

/**
 * Drains `cf:keys:last-used` (the router's ZADD GT of key id → last use in ms) into `api_keys.last_used_at`, in
 * batches, off the request path. ZPOPMIN takes entries atomically; a batch that fails is put back with ZADD GT,
 * so a newer use the router recorded meanwhile is never overwritten by an older one. One replica flushes at a time.
 */
export async function flushLastUsed(deps: FlushDeps): Promise<FlushResult> {
  const total: FlushResult = { written: 0, dropped: 0 };
  await withLock(deps.redis, LOCK_KEY, 60_000, async () => {
    for (;;) {
      const flat = await deps.redis.zpopmin(redisKeys.keyLastUsed, deps.batchSize);
      const entries: Array<[string, number]> = [];
      for (let i = 0; i + 1 < flat.length; i += 2) {
        const id = flat[i] ?? "";
        if (RECORD_ID.test(id)) entries.push([id, Number(flat[i + 1])]);
        else total.dropped += 1;
      }
      if (entries.length > 0) {
        try {
          const result = await writeBatch(deps, entries);
          total.written += result.written;
          total.dropped += result.dropped;
        } catch (error) {
          await deps.redis.zadd(redisKeys.keyLastUsed, "GT", ...entries.flatMap(([id, ms]) => [ms, id]));
          throw error;
        }
      }
      if (flat.length / 2 < deps.batchSize) break;
    }
  });
  if (total.written > 0 || total.dropped > 0) deps.logger.info({ ...total }, "key last_used_at flushed");
  return total;
}

/** Runs `flushLastUsed` every `intervalMs`; close() waits for a running flush and flushes once more. */
export function startLastUsedFlusher(deps: FlushDeps, intervalMs: number) {
  let running: Promise<unknown> = Promise.resolve();
  const run = () => {
    running = running
      .then(() => flushLastUsed(deps))
      .catch((error: unknown) =>
        deps.logger.warn({ err: error }, "last_used_at flush failed; retrying next interval"),
      );
    return running;
  };
  const timer = setInterval(() => void run(), intervalMs);
  return {
    ready: async () => undefined,
    close: async () => {
      clearInterval(timer);
      await run();
    },
  };
}
