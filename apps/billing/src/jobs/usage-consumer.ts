import type { Admission } from "@cloudfreedom/admission";
import type { PocketBaseClient } from "@cloudfreedom/db";
import { createProducer, register } from "@cloudfreedom/queue";
import type { Closeable, Logger } from "@cloudfreedom/service-kit";
import { UnrecoverableError } from "bullmq";
import type { Redis } from "ioredis";
import type { BillingEnv } from "../env.ts";
import { PermanentUsageError, persistUsageBatch } from "../services/usage/persist-usage-batch.ts";
import { UsageBatcher } from "./usage-batcher.ts";

/**
 * Consumer of queue `usage`: a job is a batch of events (USAGE_CONCURRENCY jobs in flight); the batcher groups
 * the events of all jobs in flight into writes of USAGE_BATCH_SIZE. A job completes only after every one of
 * its events is settled, stored and announced. If some are not, the job fails: retried with backoff when a
 * retry can help (what was stored is a duplicate the second time), kept for inspection when every remaining
 * failure is permanent. A SIGKILL leaves its jobs locked until USAGE_LOCK_MS, after which a restarted worker
 * takes them again, and the (tenant, event_id) key turns what was already stored into duplicates.
 */
export function startUsageConsumer(deps: {
  env: BillingEnv;
  logger: Logger;
  client: PocketBaseClient;
  redis: Redis;
  queueRedis: Redis;
  admission: Admission;
}): Closeable {
  const { env, logger } = deps;
  // The events were parsed by this consumer (and settled and stored as such): validating them again on the way
  // out cost ~15 % of the worker's CPU. The analytics consumer parses every payload regardless.
  const analytics = createProducer("analytics", { connection: deps.queueRedis, validate: false });
  const batcher = new UsageBatcher({
    maxBatch: env.USAGE_BATCH_SIZE,
    lingerMs: env.USAGE_BATCH_LINGER_MS,
    process: async (events) => {
      const errors = await persistUsageBatch(
        {
          client: deps.client,
          redis: deps.redis,
          analytics,
          settle: (batch, options) => deps.admission.settle(batch, options),
        },
        events,
      );
      const failed = errors.filter((error) => error !== null).length;
      logger.info({ events: events.length, failed }, "usage batch processed");
      return errors;
    },
  });
  const consumer = register(
    "usage",
    async (batch) => {
      const outcomes = await Promise.allSettled(batch.events.map((event) => batcher.submit(event)));
      const failures = outcomes.flatMap((outcome, i) =>
        outcome.status === "rejected"
          ? [{ eventId: batch.events[i]?.event_id, error: outcome.reason as unknown }]
          : [],
      );
      if (failures.length === 0) return;
      const retryable = failures.filter(({ error }) => !(error instanceof PermanentUsageError));
      const shown = (retryable.length > 0 ? retryable : failures)
        .slice(0, 5)
        .map(({ eventId, error }) => `${eventId}: ${error instanceof Error ? error.message : String(error)}`)
        .join("; ");
      const summary = `${failures.length} of ${batch.events.length} usage events of ${batch.batch_id} not stored (${shown})`;
      if (retryable.length > 0) throw new Error(`${summary}; retrying, stored events are not written twice`);
      throw new UnrecoverableError(`${summary}; rejected permanently, the job is kept for inspection`);
    },
    {
      connection: deps.queueRedis,
      concurrency: env.USAGE_CONCURRENCY,
      logger,
      workerOptions: {
        lockDuration: env.USAGE_LOCK_MS,
        stalledInterval: Math.max(1_000, Math.floor(env.USAGE_LOCK_MS / 2)),
        // A worker crash stalls its jobs once; more than a few stalls means something else is wrong.
        maxStalledCount: 5,
      },
    },
  );
  return {
    ready: () => consumer.ready(),
    close: async () => {
      await consumer.close();
      await batcher.drained();
      await analytics.close();
    },
  };
}
