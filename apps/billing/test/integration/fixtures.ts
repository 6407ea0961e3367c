import type { ApiKeyRow, Db, ModelRow, PlanRow, TenantRow, UserRow } from "@cloudfreedom/db";
import {
  newId,
  periodOf,
  type UsageBatch,
  type UsageEvent,
  type UsageEventInput,
  UsageEvent as UsageEventSchema,
} from "@cloudfreedom/shared";
import {
  type CreatedApiKey,
  createApiKey,
  createMembership,
  createModel,
  createPlan,
  createTenant,
  createUser,
} from "@cloudfreedom/testing";
import type { Redis } from "ioredis";

export interface TenantFixture {
  tenant: TenantRow;
  plan: PlanRow;
  owner: UserRow;
  member: UserRow;
  /** `billing` scope: the billing API key of an external gateway. */
  billingKey: CreatedApiKey;
  /** OpenAI-compatible scopes only: no billing access. */
  chatKey: CreatedApiKey;
}

/** A tenant on its own plan (budget €1, markup 20 %), an owner and a member, a billing key and a chat key. */
export async function tenantFixture(
  ctx: { db: Db; redis: Redis },
  plan: Partial<PlanRow> = {},
): Promise<TenantFixture> {
  const planRow = await createPlan(ctx, {
    tier: "pro",
    monthly_budget_micros: 1_000_000,
    markup_pct: 20,
    ...plan,
  });
  const tenant = await createTenant(ctx, { plan: planRow });
  const [{ user: owner }, { user: member }] = await Promise.all([createUser(ctx), createUser(ctx)]);
  await createMembership(ctx, { tenant, user: owner, role: "owner" });
  await createMembership(ctx, { tenant, user: member, role: "member" });
  const billingKey = await createApiKey(ctx, tenant, { scopes: ["billing"], user: owner, plan: planRow });
  const chatKey = await createApiKey(ctx, tenant, { scopes: ["chat"], plan: planRow });
  return { tenant, plan: planRow, owner, member, billingKey, chatKey };
}

/** gpt-4o-mini's shape at round prices: €1 per million input tokens, €2 per million output tokens. */
export function testModel(db: Db): Promise<ModelRow> {
  return createModel(
    { db },
    {
      input_price_micros: 1_000_000,
      cached_input_price_micros: 500_000,
      output_price_micros: 2_000_000,
      max_output_tokens: 1_000,
    },
  );
}

export function usageEvent(
  tenant: TenantRow,
  key: ApiKeyRow | null,
  overrides: Partial<UsageEventInput> = {},
): UsageEvent {
  return UsageEventSchema.parse({
    event_id: newId("event"),
    request_id: newId("request"),
    tenant_id: tenant.id,
    key_id: key?.id ?? null,
    user_id: key?.user || null,
    model: "gpt-4o-mini",
    provider: "openai",
    deployment: null,
    reservation_id: null,
    period: periodOf(new Date()),
    tokens: { input: 100, output: 50 },
    cost_micros: 1_000,
    billed_micros: 1_200,
    status: "success",
    latency_ms: 120,
    source: "router",
    occurred_at: new Date().toISOString(),
    ...overrides,
  });
}

/** Events as the router enqueues them: `usage` jobs of `perJob` events, each under its batch id. */
export function usageJobs(events: UsageEvent[], perJob = 50): Array<{ payload: UsageBatch; jobId: string }> {
  const jobs: Array<{ payload: UsageBatch; jobId: string }> = [];
  for (let i = 0; i < events.length; i += perJob) {
    const payload = { batch_id: newId("job"), events: events.slice(i, i + perJob) };
    jobs.push({ payload, jobId: payload.batch_id });
  }
  return jobs;
}

/** Polls until `probe` yields a value (no timing assertions: a deadline only turns a hang into a failure). */
export async function eventually<T>(
  probe: () => Promise<T | undefined>,
  what: string,
  timeoutMs = 30_000,
  intervalMs = 50,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const value = await probe();
    if (value !== undefined) return value;
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
  throw new Error(`timed out waiting for ${what}`);
}
