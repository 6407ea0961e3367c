import { createDb, createPocketBase, type Db } from "@cloudfreedom/db";
import { createRuntime, parseEnv, type Runtime, type Service } from "@cloudfreedom/service-kit";
import {
  type LeasedRedisDb,
  leaseRedisDb,
  type StartedPocketBase,
  type StartedStripeMock,
  startPocketBase,
  startStripeMock,
} from "@cloudfreedom/testing";
import { exportJWK, generateKeyPair, type JWTVerifyGetKey, SignJWT } from "jose";
import { buildBillingApp, buildBillingDeps } from "../../src/app.ts";
import type { BillingDeps } from "../../src/deps.ts";
import { BillingEnv } from "../../src/env.ts";

export const OPERATOR_TOKEN = "operator-token-for-billing-tests-0123456789";
export const WEBHOOK_SECRET = "whsec_billing_tests_0123456789abcdef";

export interface Reply {
  status: number;
  body: Record<string, unknown>;
  text: string;
  headers: Headers;
}

export interface BillingHarness {
  service: Service;
  runtime: Runtime<BillingEnv>;
  deps: BillingDeps;
  db: Db;
  pocketbase: StartedPocketBase;
  redisDb: LeasedRedisDb;
  stripeMock: StartedStripeMock | null;
  env: Record<string, string>;
  call(
    method: string,
    path: string,
    options?: { body?: unknown; raw?: string; token?: string | null; headers?: Record<string, string> },
  ): Promise<Reply>;
  /** An access token as the auth service would sign it. */
  signToken(
    claims: { sub: string; tenant: string; role: string; tier?: string; iat_ms?: number },
    expiresIn?: string,
  ): Promise<string>;
  stop(): Promise<void>;
}

/** The billing app in process (app.request) over a throwaway PocketBase, a leased Redis db and optionally stripe-mock. */
export async function startBilling(
  options: { stripe?: boolean; env?: Record<string, string> } = {},
): Promise<BillingHarness> {
  const [pocketbase, redisDb, stripeMock] = await Promise.all([
    startPocketBase(),
    leaseRedisDb(),
    options.stripe ? startStripeMock() : Promise.resolve(null),
  ]);
  const env: Record<string, string> = {
    REDIS_URL: redisDb.url,
    POCKETBASE_URL: pocketbase.url,
    POCKETBASE_ADMIN_EMAIL: pocketbase.adminEmail,
    POCKETBASE_ADMIN_PASSWORD: pocketbase.adminPassword,
    OPERATOR_TOKEN,
    LOG_LEVEL: "silent",
    LOG_REQUESTS: "false",
    ...(stripeMock
      ? {
          STRIPE_SECRET_KEY: "sk_test_123",
          STRIPE_API_BASE: stripeMock.url,
          STRIPE_WEBHOOK_SECRET: WEBHOOK_SECRET,
        }
      : {}),
    ...options.env,
  };
  const { publicKey, privateKey } = await generateKeyPair("ES256");
  const jwk = await exportJWK(publicKey);
  const jwtKeys: JWTVerifyGetKey = async () => publicKey;
  const runtime = await createRuntime("billing", parseEnv("billing", BillingEnv, env));
  const service = buildBillingApp(runtime, { jwtKeys });
  const deps = buildBillingDeps(runtime);
  const db = createDb(
    createPocketBase({
      url: pocketbase.url,
      adminEmail: pocketbase.adminEmail,
      adminPassword: pocketbase.adminPassword,
    }),
  );

  const call: BillingHarness["call"] = async (method, path, opts = {}) => {
    const headers: Record<string, string> = { "content-type": "application/json", ...opts.headers };
    if (opts.token) headers.authorization = `Bearer ${opts.token}`;
    const body = opts.raw ?? (opts.body === undefined ? undefined : JSON.stringify(opts.body));
    const res = await service.app.request(path, { method, headers, ...(body === undefined ? {} : { body }) });
    const text = await res.text();
    let parsed: Record<string, unknown> = {};
    try {
      parsed = text ? (JSON.parse(text) as Record<string, unknown>) : {};
    } catch {
      parsed = {};
    }
    return { status: res.status, body: parsed, text, headers: res.headers };
  };

  return {
    service,
    runtime,
    deps,
    db,
    pocketbase,
    redisDb,
    stripeMock,
    env,
    call,
    signToken: (claims, expiresIn = "5m") =>
      new SignJWT({ tier: "pro", ...claims })
        .setProtectedHeader({ alg: "ES256", kid: String(jwk.kid ?? "test") })
        .setIssuedAt()
        .setExpirationTime(expiresIn)
        .sign(privateKey),
    stop: async () => {
      await service.onClose?.();
      await deps.usageQueue.close();
      await runtime.close();
      await Promise.all([pocketbase.stop(), redisDb.release(), stripeMock?.stop()]);
    },
  };
}
