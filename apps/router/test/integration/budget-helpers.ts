import { type PeriodCounters, readPeriodCounters } from "@cloudfreedom/admission";
import {
  ErrorEnvelope,
  type ModelCatalogEntry,
  periodOf,
  priceUsage,
  UsageBatch,
  type UsageEvent,
} from "@cloudfreedom/shared";
import type { ServiceProcess } from "@cloudfreedom/testing";
import { Queue } from "bullmq";
import type { Redis } from "ioredis";
import { model, type RouterStack, startRouterStack } from "./stack.ts";

/** Output-priced only (1 micro per token before markup): a call that writes max_tokens settles what it held. */
export const BUDGET_MODEL: ModelCatalogEntry = model("budget-test", [["openai", "gpt-4o-mini"]], {
  prices: { input_per_million: 0, cached_input_per_million: 0, output_per_million: 1_000_000 },
  max_output_tokens: 4_096,
});
export const MARKUP_PCT = 20;

/** The billed cost of a budget-test call that writes `outputTokens`. */
export const billedFor = (outputTokens: number) =>
  priceUsage(
    { input: 0, cached_input: 0, output: outputTokens, reasoning: 0 },
    BUDGET_MODEL.prices,
    MARKUP_PCT,
  ).billed;

/** Longer than any max_tokens used here, so the emulator's echo is cut at exactly max_tokens. */
export const LONG_PROMPT = Array.from({ length: 200 }, (_, i) => `word${i}`).join(" ");

export interface Answer {
  status: number;
  headers: Headers;
  envelope: ErrorEnvelope | null;
}

export async function chat(
  url: string,
  key: string,
  payload: Record<string, unknown>,
  headers: Record<string, string> = {},
): Promise<Answer> {
  const res = await fetch(`${url}/v1/chat/completions`, {
    method: "POST",
    headers: { authorization: `Bearer ${key}`, "content-type": "application/json", ...headers },
    body: JSON.stringify({
      model: "budget-test",
      messages: [{ role: "user", content: LONG_PROMPT }],
      max_tokens: 10,
      ...payload,
    }),
  });
  const json: unknown = await res.json();
  return {
    status: res.status,
    headers: res.headers,
    envelope: res.status >= 400 ? ErrorEnvelope.parse(json) : null,
  };
}

export const counters = (redis: Redis, tenantId: string): Promise<PeriodCounters> =>
  readPeriodCounters(redis, tenantId, periodOf(new Date()));

/** The `usage` queue as the billing worker would see it. */
export function usageQueue(redisUrl: string): Queue {
  return new Queue("usage", { connection: { url: redisUrl }, prefix: "cf" });
}

/** A router stack with BUDGET_MODEL, a second router process (with `routerEnv`) and the `usage` queue. */
export async function startBudgetStack(
  routerEnv: Record<string, string> = {},
): Promise<{ stack: RouterStack; router: ServiceProcess; queue: Queue }> {
  const stack = await startRouterStack({}, { models: [BUDGET_MODEL] });
  const router = await stack.startRouter(routerEnv);
  return { stack, router, queue: usageQueue(stack.redisDb.url) };
}

export async function stopBudgetStack(parts: { stack?: RouterStack; queue?: Queue }): Promise<void> {
  await parts.queue?.close();
  await parts.stack?.stop();
}

export async function usageEvents(queue: Queue, tenantId: string): Promise<UsageEvent[]> {
  const jobs = await queue.getJobs(["waiting", "paused", "delayed"]);
  return jobs
    .flatMap((job) => UsageBatch.parse(job.data).events)
    .filter((event) => event.tenant_id === tenantId);
}

/** Polls until `probe` returns something; a deadline turns a hang into a readable failure. */
export async function waitFor<T>(
  probe: () => Promise<T | undefined>,
  what: string,
  timeoutMs = 10_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

/** Waits until the tenant has `count` usage events (all settled: events leave the router after settlement). */
export function settledEvents(queue: Queue, tenantId: string, count: number): Promise<UsageEvent[]> {
  return waitFor(async () => {
    const events = await usageEvents(queue, tenantId);
    return events.length >= count ? events : undefined;
  }, `${count} usage events of ${tenantId}`);
}
