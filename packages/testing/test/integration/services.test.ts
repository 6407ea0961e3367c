import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { createDb, createPocketBase } from "@cloudfreedom/db";
import { createProducer, createRedis } from "@cloudfreedom/queue";
import { ErrorEnvelope, newId, type QueueName, ReadyBody, type UsageEventInput } from "@cloudfreedom/shared";
import type { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTenant } from "../../src/factories.ts";
import { REPO_ROOT } from "../../src/paths.ts";
import { type StartedPocketBase, startPocketBase } from "../../src/pocketbase.ts";
import { type ServiceProcess, startServiceProcess } from "../../src/processes.ts";
import { type LeasedRedisDb, leaseRedisDb } from "../../src/redis.ts";

// Every app, as production runs it: its own Bun process against a real PocketBase and Redis.
const apps = readdirSync(join(REPO_ROOT, "apps")).map((name) => {
  const pkg = JSON.parse(readFileSync(join(REPO_ROOT, "apps", name, "package.json"), "utf8")) as {
    cloudfreedom: { worker: boolean };
  };
  return { name, worker: pkg.cloudfreedom.worker };
});

let pocketbase: StartedPocketBase;
let redisDb: LeasedRedisDb;
let queueRedis: Redis;
const servers = new Map<string, ServiceProcess>();
const workers = new Map<string, ServiceProcess>();
let env: Record<string, string>;

beforeAll(async () => {
  [pocketbase, redisDb] = await Promise.all([startPocketBase(), leaseRedisDb()]);
  env = {
    REDIS_URL: redisDb.url,
    POCKETBASE_URL: pocketbase.url,
    POCKETBASE_ADMIN_EMAIL: pocketbase.adminEmail,
    POCKETBASE_ADMIN_PASSWORD: pocketbase.adminPassword,
    SHUTDOWN_TIMEOUT_MS: "5000",
    // Auth encrypts its signing keys with it.
    MASTER_KEY: Buffer.alloc(32, 7).toString("base64"),
  };
  queueRedis = createRedis({ url: redisDb.url, purpose: "queue" });
  await Promise.all(
    apps.map(async (app) => {
      servers.set(app.name, await startServiceProcess({ app: app.name, env }));
      if (app.worker)
        workers.set(app.name, await startServiceProcess({ app: app.name, entry: "worker", env }));
    }),
  );
});

afterAll(async () => {
  await Promise.all([...servers.values(), ...workers.values()].map((p) => p.stop("SIGKILL")));
  queueRedis?.disconnect();
  await Promise.all([pocketbase?.stop(), redisDb?.release()]);
});

function server(name: string): ServiceProcess {
  const found = servers.get(name);
  if (!found) throw new Error(`${name} was not started`);
  return found;
}

describe.each(apps.map((app) => app.name))("%s service process", (name) => {
  it("answers /ready with PocketBase and Redis connected", async () => {
    const res = await fetch(`${server(name).url}/ready`);
    expect(res.status).toBe(200);
    const body = ReadyBody.parse(await res.json());
    expect(body).toMatchObject({ status: "ready", database: "connected", redis: "connected" });
  });

  it("answers an unknown route with the error envelope", async () => {
    const res = await fetch(`${server(name).url}/v1/does-not-exist`, {
      headers: { "x-request-id": "req-e2e-404" },
    });
    expect(res.status).toBe(404);
    const body = ErrorEnvelope.parse(await res.json());
    expect(body).toMatchObject({
      code: "not_found",
      request_id: "req-e2e-404",
      error: { type: "not_found_error" },
    });
  });

  it("logs each request as one JSON line with request id and latency", async () => {
    await fetch(`${server(name).url}/ready`, { headers: { "x-request-id": `req-log-${name}` } });
    const line = await server(name).waitForLog((entry) => entry.request_id === `req-log-${name}`);
    expect(line).toMatchObject({ service: name, msg: "request", path: "/ready", status: 200, level: "info" });
    expect(typeof line.latency_ms).toBe("number");
  });
});

/** One usage event; a `usage` job is a batch of them under a `batch_id`, which is also the job id. */
function usageEvent(overrides: Partial<UsageEventInput> = {}): UsageEventInput {
  return {
    event_id: newId("event"),
    request_id: newId("request"),
    tenant_id: "tnt_e2e",
    key_id: null,
    user_id: null,
    model: "gpt-4o-mini",
    provider: "openai",
    deployment: null,
    reservation_id: null,
    period: "2026-11",
    tokens: { input: 3, output: 4 },
    cost_micros: 10,
    billed_micros: 12,
    status: "success",
    latency_ms: 5,
    occurred_at: new Date().toISOString(),
    ...overrides,
  };
}

const sampleJobs: { [Q in QueueName]?: () => Record<string, unknown> } = {
  traces: () => ({
    batch_id: newId("job"),
    tenant_id: "tnt_e2e",
    source: "api",
    spans: [
      {
        trace_id: "0af7651916cd43dd8448eb211c80319c",
        span_id: "b7ad6b7169203331",
        name: "chat gpt-4o-mini",
        start_time: "2026-11-23T10:00:00.000Z",
        end_time: "2026-11-23T10:00:01.000Z",
        status: { code: "ok" },
      },
    ],
  }),
};

describe("worker processes consume their queues through real Redis", () => {
  const cases: Array<[string, QueueName, string, string]> = [
    ["traces", "traces", "span batch received", "batch_id"],
  ];

  it("the billing worker persists a usage job produced through packages/queue into usage_logs", async () => {
    const db = createDb(
      createPocketBase({
        url: pocketbase.url,
        adminEmail: pocketbase.adminEmail,
        adminPassword: pocketbase.adminPassword,
      }),
    );
    const tenant = await createTenant({ db }, { plan: null });
    const producer = createProducer("usage", { connection: queueRedis });
    const event = usageEvent({ tenant_id: tenant.id });
    const batch = { batch_id: newId("job"), events: [event] };
    await producer.add(batch, { jobId: batch.batch_id });
    await producer.close();
    const worker = workers.get("billing");
    if (!worker) throw new Error("billing worker not started");
    await worker.waitForLog((entry) => entry.msg === "usage batch processed");
    const stored = await db
      .forTenant(tenant.id)
      .collection("usage_logs")
      .getFirst({ filter: "event_id = {:id}", params: { id: event.event_id } });
    expect(stored).toMatchObject({
      tenant: tenant.id,
      model: "gpt-4o-mini",
      billed_micros: 12,
      source: "router",
    });
  });

  it.each(cases)(
    "the %s worker consumes a %s job produced through packages/queue",
    async (app, queue, message, idField) => {
      const producer = createProducer(queue, { connection: queueRedis });
      const payload = sampleJobs[queue]?.() ?? {};
      await producer.add(payload as never);
      await producer.close();
      const worker = workers.get(app);
      if (!worker) throw new Error(`${app} worker not started`);
      const line = await worker.waitForLog(
        (entry) => entry.msg === message && entry[idField] === payload[idField],
      );
      expect(line).toMatchObject({ service: `${app}-worker`, level: "info", tenant: "tnt_e2e" });
    },
  );

  it("the billing worker fails a malformed job once, naming the field, and keeps running", async () => {
    const { Queue } = await import("bullmq");
    const raw = new Queue("usage", { connection: queueRedis, prefix: "cf" });
    const bad = { batch_id: newId("job"), events: [{ event_id: "not-an-event-id" }] };
    const job = await raw.add("bad", bad, { jobId: bad.batch_id, attempts: 5 });
    const worker = workers.get("billing");
    if (!worker) throw new Error("billing worker not started");
    const failure = await worker.waitForLog(
      (entry) => entry.msg === "queue job failed" && entry.job_id === job.id,
    );
    expect(failure).toMatchObject({ queue: "usage", final: true, level: "warn", attempts_made: 1 });
    expect(JSON.stringify(failure.err)).toContain("events[0].event_id");
    await raw.close();
    expect(worker.child.exitCode).toBeNull();
  });
});

describe("boot and shutdown", () => {
  it("refuses to start with a bad environment and says which variables", async () => {
    const proc = await startServiceProcess({
      app: "router",
      env: { PORT: "eighty", REDIS_URL: "nope" },
      waitUntilUp: false,
    });
    expect(await proc.exited).toBe(1);
    const output = proc.output();
    expect(output).toContain("router: invalid environment");
    expect(output).toContain("POCKETBASE_ADMIN_EMAIL is not set");
    expect(output).toContain("PORT is invalid");
    expect(output).toContain("REDIS_URL is invalid");
  });

  it("drains and exits 0 on SIGTERM", async () => {
    const proc = await startServiceProcess({ app: "auth", env });
    expect(await proc.stop("SIGTERM")).toBe(0);
    expect(proc.logs().map((entry) => entry.msg)).toEqual(
      expect.arrayContaining(["shutting down: draining in-flight work", "shutdown complete"]),
    );
  });
});

// Last: it stops the shared PocketBase.
describe("readiness when PocketBase goes away", () => {
  it("every service answers /ready 503 naming the database", async () => {
    await pocketbase.stop();
    for (const app of apps) {
      const res = await fetch(`${server(app.name).url}/ready`);
      expect(res.status, app.name).toBe(503);
      expect(await res.json()).toMatchObject({
        status: "not_ready",
        database: "disconnected",
        redis: "connected",
      });
    }
  });
});
