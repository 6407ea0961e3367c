import { createDb, createPocketBase, type Db, type PlanRow } from "@cloudfreedom/db";
import { createRuntime, parseEnv, type Runtime } from "@cloudfreedom/service-kit";
import {
  createPlan,
  type LeasedRedisDb,
  leaseRedisDb,
  type StartedPocketBase,
  startPocketBase,
  uniqueSuffix,
} from "@cloudfreedom/testing";
import { type AuthService, buildAuthApp } from "../../src/app.ts";
import { AuthEnv } from "../../src/env.ts";

export const MASTER_KEY = Buffer.alloc(32, 7).toString("base64");
export const INTERNAL_TOKEN = "internal-token-for-tests-0123456789abcdef";
export const PASSWORD = "correct-horse-battery";

export interface AuthHarness {
  service: AuthService;
  runtime: Runtime<AuthEnv>;
  db: Db;
  pocketbase: StartedPocketBase;
  redisDb: LeasedRedisDb;
  freePlan: PlanRow;
  env: Record<string, string>;
  /** `app.request` with JSON in and out; `token` becomes the bearer. */
  call(
    method: string,
    path: string,
    options?: { body?: unknown; token?: string | null; headers?: Record<string, string> },
  ): Promise<{ status: number; body: Record<string, unknown>; headers: Headers }>;
  signUp(overrides?: Record<string, unknown>): Promise<Session>;
  stop(): Promise<void>;
}

export interface Session {
  access_token: string;
  refresh_token: string;
  user: { id: string; email: string };
  tenant: { id: string; slug: string; tier: string };
  role: string;
}

/** The auth app in process (app.request) over a throwaway PocketBase and a leased Redis db, with a free plan. */
export async function startAuth(envOverrides: Record<string, string> = {}): Promise<AuthHarness> {
  const [pocketbase, redisDb] = await Promise.all([startPocketBase(), leaseRedisDb()]);
  const db = createDb(
    createPocketBase({
      url: pocketbase.url,
      adminEmail: pocketbase.adminEmail,
      adminPassword: pocketbase.adminPassword,
    }),
  );
  const freePlan = await createPlan(
    { db },
    { slug: `free-${uniqueSuffix(6)}`, name: "Hobby (Free)", tier: "free", max_users: 3, price_micros: 0 },
  );
  const env = {
    REDIS_URL: redisDb.url,
    POCKETBASE_URL: pocketbase.url,
    POCKETBASE_ADMIN_EMAIL: pocketbase.adminEmail,
    POCKETBASE_ADMIN_PASSWORD: pocketbase.adminPassword,
    MASTER_KEY,
    INTERNAL_TOKEN,
    DEFAULT_PLAN_SLUG: freePlan.slug,
    LOG_LEVEL: "silent",
    LOG_REQUESTS: "false",
    TRUSTED_PROXY_HOPS: "1",
    ...envOverrides,
  };
  const runtime = await createRuntime("auth", parseEnv("auth", AuthEnv, env));
  const service = await buildAuthApp(runtime);

  const call: AuthHarness["call"] = async (method, path, options = {}) => {
    const headers: Record<string, string> = {
      "content-type": "application/json",
      "x-forwarded-for": "198.51.100.7",
      ...options.headers,
    };
    if (options.token) headers.authorization = `Bearer ${options.token}`;
    const res = await service.app.request(path, {
      method,
      headers,
      ...(options.body === undefined ? {} : { body: JSON.stringify(options.body) }),
    });
    const text = await res.text();
    return {
      status: res.status,
      body: text ? (JSON.parse(text) as Record<string, unknown>) : {},
      headers: res.headers,
    };
  };

  return {
    service,
    runtime,
    db,
    pocketbase,
    redisDb,
    freePlan,
    env,
    call,
    signUp: async (overrides = {}) => {
      // Each from its own address, as real sign-ups are: a suite makes more than one IP may (SIGNUP_MAX_PER_IP).
      const ip = `198.18.${Math.floor(Math.random() * 256)}.${Math.floor(Math.random() * 256)}`;
      const res = await call("POST", "/v1/auth/signup", {
        body: { email: `user-${uniqueSuffix()}@cloudfreedom.test`, password: PASSWORD, ...overrides },
        headers: { "x-forwarded-for": ip },
      });
      if (res.status !== 201) throw new Error(`sign-up failed: ${res.status} ${JSON.stringify(res.body)}`);
      return res.body as unknown as Session;
    },
    stop: async () => {
      await service.onClose?.();
      await runtime.close();
      await Promise.all([pocketbase.stop(), redisDb.release()]);
    },
  };
}
