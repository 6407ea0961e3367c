import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BUDGET_MODEL, billedFor, MARKUP_PCT } from "./budget-helpers.ts";
import { type RouterStack, startRouterStack } from "./stack.ts";

// Finished calls are settled in batches, one flush window after they answered. Here the window is a minute, so
// every call below is still waiting for it when the next one asks: what they cost can only count because a
// budget refusal settles the tenant's waiting calls and asks again.
let stack: RouterStack;

beforeAll(async () => {
  stack = await startRouterStack(
    { ADMISSION_PREFETCH_MAX: "0", EVENT_FLUSH_MS: "60000" },
    { models: [BUDGET_MODEL] },
  );
});
afterAll(() => stack?.stop());

/** A short chat: the hold is for 10 output tokens, the emulator's echo of "hi" writes fewer. */
async function shortChat(key: string) {
  const res = await fetch(`${stack.url}/v1/chat/completions`, {
    method: "POST",
    headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
    body: JSON.stringify({
      model: "budget-test",
      messages: [{ role: "user", content: "hi" }],
      max_tokens: 10,
    }),
  });
  const body = (await res.json()) as { details?: Record<string, unknown> };
  return { status: res.status, cost: Number(res.headers.get("x-cloudfreedom-cost-micros")), body };
}

describe("calls one after another against a budget", () => {
  it("are refused for what the finished calls cost, not for their holds", async () => {
    const hold = billedFor(10);
    const limit = hold * 2;
    const { key } = await stack.newTenantKey({ monthly_budget_micros: limit, markup_pct: MARKUP_PCT });
    const costs: number[] = [];
    let denied: Awaited<ReturnType<typeof shortChat>> | undefined;
    for (let i = 0; i < 50 && !denied; i++) {
      const answer = await shortChat(key);
      if (answer.status === 200) costs.push(answer.cost);
      else denied = answer;
    }
    const spent = costs.reduce((total, cost) => total + cost, 0);
    // Each call costs less than its hold, so more than the two calls the holds alone would let through.
    expect(Math.max(...costs)).toBeLessThan(hold);
    expect(costs.length).toBeGreaterThan(2);
    expect(denied?.status).toBe(402);
    expect(denied?.body.details).toMatchObject({ requested: hold, limit });
    // A refusal only when the next hold really does not fit, even with every call settled. (Its details may
    // still show the last call's hold: settling it would not have made room, so it was left to its flush.)
    expect(spent + hold).toBeGreaterThan(limit);
    expect(spent - (costs.at(-1) ?? 0) + hold).toBeLessThanOrEqual(limit);
  });
});
