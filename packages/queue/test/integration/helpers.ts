import type { QueuePayloadInput, UsageEventInput } from "@cloudfreedom/shared";
import { newId, QUEUE_NAMES } from "@cloudfreedom/shared";
import type { JobState } from "bullmq";
import { Queue } from "bullmq";
import type { Redis } from "ioredis";
import type { QueueLogger, RawJob } from "../../src/index.ts";

export const REDIS_URL = process.env.REDIS_URL ?? "redis://127.0.0.1:6379";

/** A prefix of its own per test, so suites running in parallel never see each other's jobs. */
export function testPrefix(): string {
  return `cf-test-${newId("job", 12)}`;
}

/** One usage event as a producer writes it; a `usage` job carries a batch of them (see `usageBatch`). */
export function usageEvent(overrides: Partial<UsageEventInput> = {}): UsageEventInput {
  return {
    event_id: newId("event"),
    request_id: "req_x",
    tenant_id: "tnt_1",
    key_id: "key_1",
    user_id: null,
    model: "gpt-4o-mini",
    provider: "openai",
    deployment: "d1",
    reservation_id: null,
    period: "2026-11",
    tokens: { input: 10, output: 5 },
    cost_micros: 12,
    billed_micros: 15,
    status: "success",
    latency_ms: 42,
    occurred_at: new Date().toISOString(),
    ...overrides,
  };
}

/** A `usage` job payload: the events under a fresh `batch_id`, which producers use as the job id. */
export function usageBatch(...events: UsageEventInput[]): QueuePayloadInput<"usage"> {
  return { batch_id: newId("job"), events };
}

/** Polls until `probe` returns a value; a deadline turns a hang into a readable failure. */
export async function waitFor<T>(
  probe: () => Promise<T | undefined> | T | undefined,
  what: string,
  timeoutMs = 15_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const value = await probe();
    if (value !== undefined) return value;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** Obliterates every queue under the prefix, then deletes anything else left under it. */
export async function removePrefix(connection: Redis, prefix: string): Promise<void> {
  for (const name of QUEUE_NAMES) {
    const queue = new Queue(name, { connection, prefix });
    await queue.obliterate({ force: true });
    await queue.close();
  }
  let cursor = "0";
  do {
    const [next, keys] = await connection.scan(cursor, "MATCH", `${prefix}:*`, "COUNT", 500);
    if (keys.length > 0) await connection.del(...keys);
    cursor = next;
  } while (cursor !== "0");
}

export function recordingLogger(): QueueLogger & {
  warnings: { obj: Record<string, unknown>; msg: string }[];
} {
  const warnings: { obj: Record<string, unknown>; msg: string }[] = [];
  return { warnings, warn: (obj, msg) => warnings.push({ obj, msg }) };
}

/** Waits for a job to reach a state, then reads it (read after the state check, so the fields are final). */
export async function waitForJobState(queue: Queue, jobId: string, state: JobState): Promise<RawJob> {
  return waitFor(async () => {
    if ((await queue.getJobState(jobId)) !== state) return undefined;
    return (await queue.getJob(jobId)) ?? undefined;
  }, `job ${jobId} to be ${state}`);
}
