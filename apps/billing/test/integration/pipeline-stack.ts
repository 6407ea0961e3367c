import { createDb, createPocketBase, type Db } from "@cloudfreedom/db";
import { closeRedis, createProducer, createRedis, type Producer, queueDepth } from "@cloudfreedom/queue";
import type { UsageEvent } from "@cloudfreedom/shared";
import {
  type LeasedRedisDb,
  leaseRedisDb,
  type ServiceProcess,
  type StartedPocketBase,
  startPocketBase,
  startServiceProcess,
} from "@cloudfreedom/testing";
import { Queue } from "bullmq";
import type { Redis } from "ioredis";

/** PocketBase, a leased Redis db and the billing worker as its own Bun process, as production runs it. */
export interface PipelineStack {
  db: Db;
  pocketbase: StartedPocketBase;
  redisDb: LeasedRedisDb;
  queueRedis: Redis;
  usage: Producer<"usage">;
  env: Record<string, string>;
  /** `waitUntilUp: false` returns at spawn, before the worker says it consumes (it may already be working). */
  startWorker(
    extraEnv?: Record<string, string>,
    options?: { waitUntilUp?: boolean },
  ): Promise<ServiceProcess>;
  /** Event ids stored in usage_logs for a tenant (with repeats, if there ever were any). */
  storedEventIds(tenantId: string): Promise<string[]>;
  /** How many usage_logs rows a tenant has: one small query, cheap enough to poll tightly. */
  storedEventCount(tenantId: string): Promise<number>;
  /** Every event id forwarded to queue `analytics`. */
  analyticsEventIds(): Promise<string[]>;
  drained(): Promise<boolean>;
  stop(): Promise<void>;
}

export async function startPipelineStack(env: Record<string, string> = {}): Promise<PipelineStack> {
  const [pocketbase, redisDb] = await Promise.all([startPocketBase(), leaseRedisDb()]);
  const db = createDb(
    createPocketBase({
      url: pocketbase.url,
      adminEmail: pocketbase.adminEmail,
      adminPassword: pocketbase.adminPassword,
    }),
  );
  const fullEnv = {
    REDIS_URL: redisDb.url,
    POCKETBASE_URL: pocketbase.url,
    POCKETBASE_ADMIN_EMAIL: pocketbase.adminEmail,
    POCKETBASE_ADMIN_PASSWORD: pocketbase.adminPassword,
    SHUTDOWN_TIMEOUT_MS: "5000",
    USAGE_LOCK_MS: "2000",
    SNAPSHOT_INTERVAL_MS: "200",
    ...env,
  };
  const queueRedis = createRedis({ url: redisDb.url, purpose: "queue" });
  const usage = createProducer("usage", { connection: queueRedis });
  const workers: ServiceProcess[] = [];
  return {
    db,
    pocketbase,
    redisDb,
    queueRedis,
    usage,
    env: fullEnv,
    async startWorker(extraEnv = {}, options = {}) {
      const worker = await startServiceProcess({
        app: "billing",
        entry: "worker",
        env: { ...fullEnv, ...extraEnv },
        ...(options.waitUntilUp === false ? { waitUntilUp: false } : {}),
      });
      workers.push(worker);
      return worker;
    },
    async storedEventIds(tenantId) {
      const rows = await db.client.call((pb) =>
        pb.collection("usage_logs").getFullList({
          filter: pb.filter("tenant = {:t}", { t: tenantId }),
          fields: "event_id",
          // Oldest first: rows written while the pages are read land after them, so no page shifts.
          sort: "created,id",
          batch: 1_000,
        }),
      );
      return rows.map((row) => String(row.event_id));
    },
    async storedEventCount(tenantId) {
      const page = await db.client.call((pb) =>
        pb.collection("usage_logs").getList(1, 1, {
          filter: pb.filter("tenant = {:t}", { t: tenantId }),
          fields: "id",
        }),
      );
      return page.totalItems;
    },
    async analyticsEventIds() {
      const queue = new Queue("analytics", { connection: queueRedis, prefix: "cf" });
      const jobs = await queue.getJobs(["waiting", "active", "delayed", "completed", "failed"], 0, -1);
      await queue.close();
      return jobs.flatMap((job) =>
        (job.data as { events: UsageEvent[] }).events.map((event) => event.event_id),
      );
    },
    async drained() {
      const depth = await queueDepth("usage", { connection: queueRedis });
      return depth.waiting === 0 && depth.active === 0 && depth.delayed === 0;
    },
    async stop() {
      await Promise.all(workers.map((worker) => worker.stop("SIGKILL")));
      await usage.close();
      await closeRedis(queueRedis);
      await Promise.all([pocketbase.stop(), redisDb.release()]);
    },
  };
}
