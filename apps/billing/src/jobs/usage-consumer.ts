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
 * Consumer of queue `usage`: BullMQ delivers jobs one by one (USAGE_CONCURRENCY in flight), the batcher groups
 * them into PocketBase batches. A job completes only after its event is settled, stored and announced; a
 * SIGKILL leaves its jobs locked until USAGE_LOCK_MS, after which a restarted worker takes them again (and
 * the (tenant, event_id) key turns what was already stored into duplicates).
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
  const analytics = createProducer("analytics", { connection: deps.queueRedis });
  const batcher = new UsageBatcher({
    maxBatch: env.USAGE_BATCH_SIZE,
    lingerMs: env.USAGE_BATCH_LINGER_MS,
    process: async (events) => {
      const errors = await persistUsageBatch(
        {
          client: deps.client,
          redis: deps.redis,
          analytics,
          settle: (batch) => deps.admission.settle(batch),
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
    async (event) => {
      try {
        await batcher.submit(event);
      } catch (error) {
        if (error instanceof PermanentUsageError) throw new UnrecoverableError(error.message);
        throw error;
      }
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
