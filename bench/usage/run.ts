// bench/usage: usage events persisted per second, end to end: enqueued on queue `usage` as the router does
// (one job per flush; BATCH events each, 50 by default: a 5 ms flush at 10k requests/s), consumed by the billing worker process, settled, written to PocketBase usage_logs,
// snapshotted and forwarded to `analytics`. Throwaway PocketBase and a leased Redis db; nothing else is touched.
//
//   bun bench/usage/run.ts            # EVENTS=50000, BATCH=50, the worker's default settings
//   EVENTS=100000 BATCH=500 USAGE_CONCURRENCY=16 bun bench/usage/run.ts
import { cpus } from "node:os";
import { createDb, createPocketBase } from "@cloudfreedom/db";
import { closeRedis, createProducer, createRedis, queueDepth } from "@cloudfreedom/queue";
import { newId, periodOf, type UsageEventInput } from "@cloudfreedom/shared";
import {
  createApiKey,
  createTenant,
  leaseRedisDb,
  type ServiceProcess,
  startPocketBase,
  startServiceProcess,
} from "@cloudfreedom/testing";

const EVENTS = Number(process.env.EVENTS ?? 50_000);
const BATCH = Number(process.env.BATCH ?? 50);
const workerEnv = Object.fromEntries(
  ["USAGE_BATCH_SIZE", "USAGE_CONCURRENCY", "USAGE_BATCH_LINGER_MS", "SNAPSHOT_INTERVAL_MS"].flatMap(
    (name) => (process.env[name] ? [[name, process.env[name] ?? ""]] : []),
  ),
);

const [pocketbase, redisDb] = await Promise.all([startPocketBase(), leaseRedisDb()]);
const client = createPocketBase({
  url: pocketbase.url,
  adminEmail: pocketbase.adminEmail,
  adminPassword: pocketbase.adminPassword,
});
const db = createDb(client);
const queueRedis = createRedis({ url: redisDb.url, purpose: "queue" });
let worker: ServiceProcess | undefined;
try {
  worker = await startServiceProcess({
    app: "billing",
    entry: "worker",
    env: {
      REDIS_URL: redisDb.url,
      POCKETBASE_URL: pocketbase.url,
      POCKETBASE_ADMIN_EMAIL: pocketbase.adminEmail,
      POCKETBASE_ADMIN_PASSWORD: pocketbase.adminPassword,
      LOG_LEVEL: "info",
      ...workerEnv,
    },
  });
  const tenant = await createTenant({ db });
  const key = await createApiKey({ db, redis: redisDb.redis }, tenant, { scopes: ["chat"] });
  const period = periodOf(new Date());
  const event = (): UsageEventInput => ({
    event_id: newId("event"),
    request_id: newId("request"),
    tenant_id: tenant.id,
    key_id: key.row.id,
    user_id: null,
    model: "gpt-4o-mini",
    provider: "openai",
    deployment: "openai/gpt-4o-mini",
    reservation_id: null,
    period,
    tokens: { input: 120, output: 80 },
    cost_micros: 66,
    billed_micros: 80,
    status: "success",
    latency_ms: 420,
    occurred_at: new Date().toISOString(),
  });
  const stored = async () =>
    (await db.forTenant(tenant.id).collection("usage_logs").list({ perPage: 1 })).totalItems;

  const producer = createProducer("usage", { connection: queueRedis });
  const started = performance.now();
  const enqueueing = (async () => {
    // 20 router flushes per round trip, as a router's publisher sends a backlog.
    for (let sent = 0; sent < EVENTS; ) {
      const items = [];
      for (let j = 0; j < 20 && sent < EVENTS; j++) {
        const events = Array.from({ length: Math.min(BATCH, EVENTS - sent) }, event);
        sent += events.length;
        const payload = { batch_id: newId("job"), events };
        items.push({ payload, jobId: payload.batch_id });
      }
      await producer.addBulk(items);
    }
    return performance.now() - started;
  })();
  // A job completes only once every event of it is stored, so the queue's counts (cheap, in Redis) say when
  // the end is reached; counting rows would be a query on the very table being written. The rows are
  // counted once at the end to prove it.
  const jobs = Math.ceil(EVENTS / BATCH);
  const deadline = Date.now() + 30 * 60_000;
  let elapsedMs = Number.NaN;
  while (Date.now() < deadline) {
    const depth = await queueDepth("usage", { connection: queueRedis });
    if (depth.completed + depth.failed >= jobs) {
      elapsedMs = performance.now() - started;
      break;
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  const count = await stored();
  const enqueueMs = await enqueueing;
  await producer.close();
  const cpu = cpus();
  console.log(
    JSON.stringify(
      {
        bench: "usage",
        events: EVENTS,
        events_per_job: BATCH,
        persisted: count,
        seconds: Number((elapsedMs / 1000).toFixed(2)),
        events_per_second: Math.round((count / elapsedMs) * 1000),
        enqueue_events_per_second: Math.round((EVENTS / enqueueMs) * 1000),
        worker: { ...workerEnv },
        machine: { cpus: cpu.length, model: cpu[0]?.model ?? "unknown" },
      },
      null,
      2,
    ),
  );
  if (count !== EVENTS) {
    console.error(`[bench] ${EVENTS - count} of ${EVENTS} events were not stored; see the worker's log`);
    process.exitCode = 1;
  }
} finally {
  await worker?.stop("SIGTERM");
  await closeRedis(queueRedis);
  await Promise.all([pocketbase.stop(), redisDb.release()]);
}
