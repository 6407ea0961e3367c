// bench/usage: usage events persisted per second, end to end: enqueued on queue `usage` as the router does
// (one job per flush; BATCH events each, 50 by default: a 20 ms flush at 2,500 requests/s, smaller jobs than a busy router makes), consumed by the billing worker process, settled, written to PocketBase usage_logs,
// snapshotted and forwarded to `analytics`. Throwaway PocketBase and a leased Redis db; nothing else is touched.
//
//   bun bench/usage/run.ts            # EVENTS=50000 timed after WARMUP=10000, BATCH=50, the worker's defaults
//   EVENTS=100000 BATCH=500 USAGE_CONCURRENCY=16 bun bench/usage/run.ts
//   PREFILL=1000000 bun bench/usage/run.ts   # steady state: the same tenant's table holds 1M rows first
//   WORKER_BUN_OPTIONS="--cpu-prof --cpu-prof-dir=/tmp/prof" bun bench/usage/run.ts   # profile the worker
import { Database } from "bun:sqlite";
import { cpus } from "node:os";
import { createDb, createPocketBase } from "@cloudfreedom/db";
import {
  closeRedis,
  createProducer,
  createRedis,
  DURABLE_JOB_OPTIONS,
  queueDepthReader,
} from "@cloudfreedom/queue";
import { newId, periodOf, type UsageEventInput } from "@cloudfreedom/shared";
import {
  createApiKey,
  createTenant,
  leaseRedisDb,
  type ServiceProcess,
  startPocketBase,
  startServiceProcess,
} from "@cloudfreedom/testing";
import { productionRuntimeEnv } from "../runtime-env.ts";

/** A whole number from the environment (at least `min`), or the default; anything else stops the bench. */
function wholeNumber(name: string, fallback: number, min: number): number {
  const value = Number(process.env[name] ?? fallback);
  if (!Number.isInteger(value) || value < min) {
    console.error(`[bench] ${name}=${process.env[name]} is not a whole number >= ${min}`);
    process.exit(2);
  }
  return value;
}
const EVENTS = wholeNumber("EVENTS", 50_000, 1);
const BATCH = wholeNumber("BATCH", 50, 1);
const PREFILL = wholeNumber("PREFILL", 0, 0);
const WARMUP = wholeNumber("WARMUP", 10_000, 0);
/** The worker's runtime settings: docker/Dockerfile's (this bench passes no other of its environment on). */
const runtimeEnv = productionRuntimeEnv();
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
      // e.g. WORKER_BUN_OPTIONS="--cpu-prof --cpu-prof-dir=/tmp/prof": a CPU profile of the worker.
      ...(process.env.WORKER_BUN_OPTIONS ? { BUN_OPTIONS: process.env.WORKER_BUN_OPTIONS } : {}),
      // As docker/Dockerfile sets them for every service.
      ...runtimeEnv,
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
    reservation_id: newId("reservation"), // the router admits every call it reports with a reservation
    period,
    tokens: { input: 120, output: 80 },
    cost_micros: 66,
    billed_micros: 80,
    status: "success",
    latency_ms: 420,
    occurred_at: new Date().toISOString(),
  });
  if (PREFILL > 0) prefill(pocketbase.dataDir, tenant.id, key.row.id, period, PREFILL);
  const stored = async () =>
    (await db.forTenant(tenant.id).collection("usage_logs").list({ perPage: 1 })).totalItems;

  // As the router's publisher: typed events, not validated on the way in (the worker parses every job), and
  // the durable retries of usage jobs. Unlike the queue's retention (100 completed jobs), every completed job
  // of the run is kept: the queue's counts say when the end is reached (below).
  const warmupJobs = Math.ceil(WARMUP / BATCH);
  const jobs = Math.ceil(EVENTS / BATCH);
  const producer = createProducer("usage", {
    connection: queueRedis,
    validate: false,
    jobOptions: { ...DURABLE_JOB_OPTIONS, removeOnComplete: { count: warmupJobs + jobs } },
  });
  // One reader for the whole run: a new Queue per poll would ask Redis for INFO every time (1.3 against
  // 0.16 ms a poll, 50 polls a second, on the cores the pipeline runs on).
  const depthReader = queueDepthReader("usage", { connection: queueRedis });

  /**
   * Enqueues `total` events and waits until the queue has finished `until` jobs in all. A job completes only
   * once every event of it is stored, so the queue's counts (cheap, in Redis) say when the end is reached;
   * counting rows would be a query on the very table being written (the rows are counted once at the end to
   * prove it). Usage jobs retry for hours (durable options), so a broken run is stopped when no job has
   * finished for a minute rather than waited out.
   */
  async function phase(total: number, until: number) {
    const started = performance.now();
    const enqueueing = (async () => {
      // 20 router flushes per round trip, as a router's publisher sends a backlog.
      for (let sent = 0; sent < total; ) {
        const items = [];
        for (let j = 0; j < 20 && sent < total; j++) {
          const events = Array.from({ length: Math.min(BATCH, total - sent) }, event);
          sent += events.length;
          const payload = { batch_id: newId("job"), events };
          items.push({ payload, jobId: payload.batch_id });
        }
        await producer.addBulk(items);
      }
      return performance.now() - started;
    })();
    const stallMs = 60_000;
    let elapsedMs = Number.NaN;
    let finished = 0;
    let progressAt = Date.now();
    for (;;) {
      const depth = await depthReader.read();
      if (depth.completed + depth.failed >= until) {
        elapsedMs = performance.now() - started;
        break;
      }
      if (depth.completed + depth.failed > finished) {
        finished = depth.completed + depth.failed;
        progressAt = Date.now();
      } else if (Date.now() - progressAt > stallMs) {
        console.error(
          `[bench] no usage job finished for ${stallMs / 1000} s (${finished} of ${until} done, ${depth.delayed} waiting to retry); stopping. DUMP_WORKER_LOG=1 shows what the worker logged`,
        );
        break;
      }
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    return { elapsedMs, enqueueMs: await enqueueing };
  }

  // The warm-up brings the worker's JIT, PocketBase and SQLite to their steady state before the clock runs
  // (as bench/router warms up): otherwise a 5 s run also measures a cold start.
  if (WARMUP > 0) {
    const warm = await phase(WARMUP, warmupJobs);
    // Checked outside the clock: a failed job also counts as finished, and its events must not be blamed on
    // (or hidden in) the timed phase.
    const failed = (await depthReader.read()).failed;
    const warmStored = (await stored()) - PREFILL;
    if (Number.isNaN(warm.elapsedMs) || failed > 0 || warmStored !== WARMUP)
      throw new Error(
        `the warm-up did not go through (${warmStored} of ${WARMUP} events stored, ${failed} jobs failed); nothing was timed. DUMP_WORKER_LOG=1 shows what the worker logged`,
      );
    console.error(`[bench] warm-up: ${WARMUP} events in ${(warm.elapsedMs / 1000).toFixed(1)} s`);
  }
  const { elapsedMs, enqueueMs } = await phase(EVENTS, warmupJobs + jobs);
  await depthReader.close();
  const count = (await stored()) - PREFILL - WARMUP;
  await producer.close();
  const cpu = cpus();
  console.log(
    JSON.stringify(
      {
        bench: "usage",
        events: EVENTS,
        events_per_job: BATCH,
        prefilled_rows: PREFILL,
        warmup_events: WARMUP,
        persisted: count,
        seconds: Number((elapsedMs / 1000).toFixed(2)),
        events_per_second: Math.round((count / elapsedMs) * 1000),
        enqueue_events_per_second: Math.round((EVENTS / enqueueMs) * 1000),
        worker: { ...workerEnv },
        runtime: runtimeEnv,
        machine: { cpus: cpu.length, model: cpu[0]?.model ?? "unknown" },
      },
      null,
      2,
    ),
  );
  if (Number.isNaN(elapsedMs)) {
    console.error("[bench] the timed phase did not finish (see above); no figure");
    process.exitCode = 1;
  }
  if (count !== EVENTS) {
    console.error(`[bench] ${EVENTS - count} of ${EVENTS} events were not stored; see the worker's log`);
    process.exitCode = 1;
  }
} finally {
  // What the worker said, counted by message (DUMP_WORKER_LOG=1): where a slow run spent its time.
  if (process.env.DUMP_WORKER_LOG) {
    const counts = new Map<string, number>();
    for (const line of worker?.logs() ?? [])
      counts.set(String(line.msg), (counts.get(String(line.msg)) ?? 0) + 1);
    console.error([...counts].sort((a, b) => b[1] - a[1]).slice(0, 20));
  }
  await worker?.stop("SIGTERM");
  await closeRedis(queueRedis);
  await Promise.all([pocketbase.stop(), redisDb.release()]);
}

/**
 * Writes `rows` usage_logs rows of the tenant straight into PocketBase's SQLite file (WAL; PocketBase is idle
 * meanwhile), shaped like the worker's: random ids as PocketBase makes them, random event and request ids, an
 * hour of occurred_at before now. Then the timed run inserts into indexes of that size, as a table in
 * production would be.
 */
function prefill(dataDir: string, tenantId: string, keyId: string, period: string, rows: number): void {
  const db = new Database(`${dataDir}/data.db`);
  db.exec("PRAGMA busy_timeout = 10000");
  const insert = db.prepare(
    `INSERT INTO usage_logs (id, tenant, event_id, request_id, api_key, source, model, provider, deployment,
       upstream_model, status, period, occurred_at, created, updated, input_tokens, output_tokens, cost_micros,
       billed_micros, latency_ms, http_status, attempts)
     VALUES (?, ?, ?, ?, ?, 'router', 'gpt-4o-mini', 'openai', 'openai/gpt-4o-mini', 'gpt-4o-mini', 'success', ?,
       ?, ?, ?, 120, 80, 66, 80, 420, 200, 1)`,
  );
  const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789";
  const pbId = () => {
    let id = "use_";
    for (let i = 0; i < 15; i++) id += alphabet[Math.floor(Math.random() * 36)];
    return id;
  };
  const start = Date.now() - 3_600_000;
  const began = performance.now();
  const chunk = 50_000;
  for (let done = 0; done < rows; ) {
    const n = Math.min(chunk, rows - done);
    db.transaction(() => {
      for (let i = 0; i < n; i++) {
        const at = new Date(start + ((done + i) * 3_600_000) / rows).toISOString().replace("T", " ");
        insert.run(pbId(), tenantId, newId("event"), newId("request"), keyId, period, at, at, at);
      }
    })();
    done += n;
    console.error(
      `[bench] prefilled ${done} of ${rows} rows (${((performance.now() - began) / 1000).toFixed(0)} s)`,
    );
  }
  // The period sums PocketBase keeps with every write of a log (infra/pocketbase/usage_sums.go).
  db.prepare(
    `INSERT INTO usage_period_sums (tenant, period, api_key, user, billed_micros, cost_micros, requests, queries)
     VALUES (?, ?, ?, '', ?, ?, ?, ?)
     ON CONFLICT (tenant, period, api_key, user) DO UPDATE SET
       billed_micros = billed_micros + excluded.billed_micros, cost_micros = cost_micros + excluded.cost_micros,
       requests = requests + excluded.requests, queries = queries + excluded.queries`,
  ).run(tenantId, period, keyId, 80 * rows, 66 * rows, rows, rows);
  db.close();
}
