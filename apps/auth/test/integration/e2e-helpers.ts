import { publishTenantKeys } from "@cloudfreedom/keyring";
import { uniqueSuffix } from "@cloudfreedom/testing";
import type { TierStack } from "./e2e-stack.ts";
import { PASSWORD } from "./harness.ts";

export type Tier = "free" | "pro" | "enterprise";
export interface TierUser {
  email: string;
  tenantId: string;
  /** The access token from POST /v1/auth/login. */
  token: string;
  /** A virtual key made with that token. */
  key: string;
}
export type Listed = { id: string; required_tier: string; access_status?: string };
export interface Answer {
  status: number;
  headers: Headers;
  body: Record<string, unknown>;
}

export async function authCall(
  stack: TierStack,
  path: string,
  body: unknown,
  token?: string,
): Promise<Answer> {
  const res = await fetch(`${stack.auth.url}${path}`, {
    method: "POST",
    headers: { "content-type": "application/json", ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify(body),
  });
  return { status: res.status, headers: res.headers, body: (await res.json()) as Record<string, unknown> };
}

export async function routerCall(
  url: string,
  path: string,
  key: string | null,
  body?: unknown,
): Promise<Answer> {
  const res = await fetch(`${url}${path}`, {
    method: body === undefined ? "GET" : "POST",
    headers: { "content-type": "application/json", ...(key ? { authorization: `Bearer ${key}` } : {}) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status: res.status, headers: res.headers, body: (await res.json()) as Record<string, unknown> };
}

export const chat = (url: string, key: string, model: string) =>
  routerCall(url, "/v1/chat/completions", key, {
    model,
    messages: [{ role: "user", content: "Hello" }],
    max_tokens: 50,
  });

export const byId = (body: Record<string, unknown>) =>
  Object.fromEntries((body.data as Listed[]).map((m) => [m.id, m]));

/** Polls until `check` holds or `ms` passed (propagation through pub/sub is asynchronous). */
export async function eventually(check: () => Promise<boolean>, ms = 1_000): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (await check()) return true;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  return check();
}

/** What billing does on a Stripe subscription change: the row, then every KeyRecord of the tenant. */
export async function subscribe(
  stack: TierStack,
  tenantId: string,
  tier: "pro" | "enterprise",
): Promise<void> {
  await stack.db
    .forTenant(tenantId)
    .collection("subscriptions")
    .create({ status: "active", tier, plan: stack.plans[tier] });
  await publishTenantKeys({ db: stack.db, redis: stack.redisDb.redis, tenantId });
}

/** Signs a user up through auth (free plan), subscribes them to `tier`, logs in and creates a key. */
export async function tierUser(stack: TierStack, tier: Tier): Promise<TierUser> {
  const email = `${tier}-${uniqueSuffix(6)}@example.com`;
  const signUp = await authCall(stack, "/v1/auth/signup", { email, password: PASSWORD });
  if (signUp.status !== 201) throw new Error(`sign-up: ${signUp.status} ${JSON.stringify(signUp.body)}`);
  const tenantId = (signUp.body.tenant as { id: string }).id;
  if (tier !== "free") await subscribe(stack, tenantId, tier);
  // Seed 003 tests 2/4/6: "Get JWT token for … user" — POST /v1/auth/login {email, password} → access_token.
  const login = await authCall(stack, "/v1/auth/login", { email, password: PASSWORD });
  if (login.status !== 200) throw new Error(`login: ${login.status}`);
  const token = String(login.body.access_token);
  const key = await authCall(stack, "/v1/keys", { name: `${tier} key` }, token);
  if (key.status !== 201) throw new Error(`key: ${key.status}`);
  return { email, tenantId, token, key: String(key.body.secret) };
}
