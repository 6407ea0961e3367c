import { KeyRecord, redisKeys } from "@cloudfreedom/shared";
import {
  type CreatedApiKey,
  createApiKey,
  createMembership,
  createPlan,
  createTenant,
  createUser,
  type ServiceProcess,
  startServiceProcess,
} from "@cloudfreedom/testing";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { type Answer, BUDGET_MODEL, billedFor, chat, MARKUP_PCT } from "./budget-helpers.ts";
import { type RouterStack, startRouterStack } from "./stack.ts";

// Standing budgets set through the billing service (PUT /v1/budgets, as owners and operators do) are enforced
// by the real router process, and billing's GET /v1/budget shows the limit and period the router applies.
const OPERATOR_TOKEN = "operator-token-for-router-standing-budget-tests-0123456789";
const PLAN_BUDGET = 1_000_000;
/** Affords one budget-test call of 10 output tokens, not two. */
const STANDING_LIMIT = Math.floor(billedFor(10) * 1.5);

let stack: RouterStack;
let billing: ServiceProcess;

beforeAll(async () => {
  stack = await startRouterStack({}, { models: [BUDGET_MODEL] });
  billing = await startServiceProcess({
    app: "billing",
    env: { ...stack.env, OPERATOR_TOKEN, LOG_LEVEL: "warn" },
  });
});
afterAll(async () => {
  await billing?.stop("SIGKILL");
  await stack?.stop();
});
beforeEach(() => {
  for (const emulator of Object.values(stack.emulators)) emulator.reset();
});

const providerCalls = () => stack.emulators.openai.counts.requests;

async function operator(method: string, path: string, body?: unknown): Promise<Record<string, unknown>> {
  const res = await fetch(`${billing.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${OPERATOR_TOKEN}`, "content-type": "application/json" },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const json = (await res.json()) as Record<string, unknown>;
  if (res.status !== 200) throw new Error(`${method} ${path}: ${res.status} ${JSON.stringify(json)}`);
  return json;
}

interface Scope {
  scope_type: string;
  scope_id: string;
  limit_micros: number | null;
}
interface BudgetView {
  period: string;
  period_end: string;
  scopes: Scope[];
}

const budgetView = async (tenantId: string, userId?: string): Promise<BudgetView> =>
  (await operator(
    "GET",
    `/v1/budget?tenant_id=${tenantId}${userId ? `&user_id=${userId}` : ""}`,
  )) as unknown as BudgetView;

const limitOf = (view: BudgetView, type: string) =>
  view.scopes.find((scope) => scope.scope_type === type)?.limit_micros;

const stored = async (key: CreatedApiKey) =>
  KeyRecord.parse(JSON.parse((await stack.redisDb.redis.get(redisKeys.keyRecord(key.hash))) ?? "null"));

/** A tenant on a plan with a €1 budget, a member and a key of that member (its record as auth would leave it). */
async function memberTenant() {
  const ctx = { db: stack.db, redis: stack.redisDb.redis };
  const plan = await createPlan(ctx, {
    tier: "pro",
    monthly_budget_micros: PLAN_BUDGET,
    markup_pct: MARKUP_PCT,
  });
  const tenant = await createTenant(ctx, { plan });
  const { user } = await createUser(ctx);
  await createMembership(ctx, { tenant, user, role: "member" });
  const key = await createApiKey(ctx, tenant, { user, plan });
  return { tenant, user, key };
}

/** Chats until the router stops admitting (a router evicts its cached record when the invalidation arrives). */
async function chatUntilDenied(key: string): Promise<{ denied: Answer; callsBefore: number }> {
  for (let attempt = 0; ; attempt++) {
    const callsBefore = providerCalls();
    const answer = await chat(stack.url, key, {});
    if (answer.status !== 200 || attempt >= 20) return { denied: answer, callsBefore };
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe("standing budgets set through billing, enforced by the router", () => {
  it("a user's standing budget: 402 budget_exceeded scope user before any provider call", async () => {
    const { tenant, user, key } = await memberTenant();
    expect(await stored(key)).not.toHaveProperty("user_budget_micros");
    await operator("PUT", "/v1/budgets", {
      tenant_id: tenant.id,
      scope_type: "user",
      scope_id: user.id,
      limit_micros: STANDING_LIMIT,
    });
    expect(await stored(key)).toMatchObject({ user_id: user.id, user_budget_micros: STANDING_LIMIT });

    expect((await chat(stack.url, key.secret, {})).status).toBe(200);
    const before = providerCalls();
    const denied = await chat(stack.url, key.secret, {});
    expect(denied.status).toBe(402);
    expect(denied.envelope).toMatchObject({
      code: "budget_exceeded",
      details: { scope: "user", limit: STANDING_LIMIT, requested: billedFor(10) },
      error: { type: "insufficient_quota" },
    });
    expect(providerCalls()).toBe(before);

    // Billing shows the limit the router enforced; the tenant keeps its plan's budget.
    const view = await budgetView(tenant.id, user.id);
    expect(limitOf(view, "user")).toBe(denied.envelope?.details?.limit);
    expect(limitOf(view, "tenant")).toBe(PLAN_BUDGET);
    expect(denied.envelope?.details).toMatchObject({ period: view.period, period_end: view.period_end });
  });

  it("a tenant's standing budget below its plan's replaces it, also for a key the router has cached", async () => {
    const { tenant, key } = await memberTenant();
    // The router caches the record with the plan's budget.
    expect((await chat(stack.url, key.secret, {})).status).toBe(200);
    await operator("PUT", "/v1/budgets", {
      tenant_id: tenant.id,
      scope_type: "tenant",
      limit_micros: STANDING_LIMIT,
    });
    expect((await stored(key)).tenant_limits.budget_micros).toBe(STANDING_LIMIT);

    const { denied, callsBefore } = await chatUntilDenied(key.secret);
    expect(denied.status).toBe(402);
    expect(denied.envelope).toMatchObject({
      code: "budget_exceeded",
      details: { scope: "tenant", limit: STANDING_LIMIT },
    });
    expect(providerCalls()).toBe(callsBefore);

    const view = await budgetView(tenant.id);
    expect(limitOf(view, "tenant")).toBe(STANDING_LIMIT);
    expect(limitOf(view, "tenant")).toBe(denied.envelope?.details?.limit);
    expect(denied.envelope?.details).toMatchObject({ period: view.period, period_end: view.period_end });

    // Removing the standing limit gives the tenant its plan's budget back, in the router too.
    await operator("PUT", "/v1/budgets", { tenant_id: tenant.id, scope_type: "tenant", limit_micros: null });
    expect((await stored(key)).tenant_limits.budget_micros).toBe(PLAN_BUDGET);
    expect(limitOf(await budgetView(tenant.id), "tenant")).toBe(PLAN_BUDGET);
    let admitted = await chat(stack.url, key.secret, {});
    for (let i = 0; i < 20 && admitted.status !== 200; i++) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      admitted = await chat(stack.url, key.secret, {});
    }
    expect(admitted.status).toBe(200);
  });

  it("a subscription's period anchor: the router counts and denies in the period billing shows", async () => {
    const { tenant, key } = await memberTenant();
    // An anchor in 2..28 (every month has it) and never the 1st, so its periods are not calendar months.
    const today = new Date();
    const anchor = (today.getUTCDate() % 27) + 2;
    const start = new Date(Date.UTC(today.getUTCFullYear(), today.getUTCMonth() - 1, anchor, 9, 30));
    await stack.db
      .forTenant(tenant.id)
      .collection("subscriptions")
      .create({
        status: "active",
        tier: "pro",
        current_period_start: start.toISOString().replace("T", " "),
      });
    // Any refresh of the tenant's keys (here: setting a budget) carries the anchor into the KeyRecords.
    await operator("PUT", "/v1/budgets", { tenant_id: tenant.id, scope_type: "tenant", limit_micros: 1 });
    expect((await stored(key)).tenant_limits).toMatchObject({ period_anchor_day: anchor, budget_micros: 1 });

    const before = providerCalls();
    const denied = await chat(stack.url, key.secret, {});
    expect(denied.status).toBe(402);
    expect(denied.envelope).toMatchObject({ details: { scope: "tenant", limit: 1 } });
    expect(providerCalls()).toBe(before);

    const view = await budgetView(tenant.id);
    expect(new Date(view.period_end).getUTCDate()).toBe(anchor);
    expect(denied.envelope?.details).toMatchObject({ period: view.period, period_end: view.period_end });
  });
});
