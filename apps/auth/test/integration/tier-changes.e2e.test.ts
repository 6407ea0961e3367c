import { createLogger, createService, jwtAuth } from "@cloudfreedom/service-kit";
import { hashApiKey, INVALIDATE_CHANNEL, redisKeys } from "@cloudfreedom/shared";
import { uniqueSuffix } from "@cloudfreedom/testing";
import { decodeJwt } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import * as e2e from "./e2e-helpers.ts";
import { eventually, type Listed, type TierUser, tierUser } from "./e2e-helpers.ts";
import { startTierStack, type TierStack } from "./e2e-stack.ts";
import { PASSWORD } from "./harness.ts";

// Tier and catalog changes, revokes and lost Redis records between auth and the router, all processes.
let stack: TierStack;
let free: TierUser;
let pro: TierUser;
let enterprise: TierUser;

beforeAll(async () => {
  stack = await startTierStack();
  [free, pro, enterprise] = await Promise.all([
    tierUser(stack, "free"),
    tierUser(stack, "pro"),
    tierUser(stack, "enterprise"),
  ]);
}, 120_000);
afterAll(async () => {
  await stack?.stop();
});

const authCall = (path: string, body: unknown, token?: string) => e2e.authCall(stack, path, body, token);
const chat = (key: string, model: string, url = stack.router.url) => e2e.chat(url, key, model);
const router = (path: string, key: string | null, body?: unknown, url = stack.router.url) =>
  e2e.routerCall(url, path, key, body);
const subscribe = (tenantId: string, tier: "pro" | "enterprise") => e2e.subscribe(stack, tenantId, tier);

describe("changes take effect without restarts", () => {
  it("a tier change reaches the keys the tenant already has, and tokens issued afterwards", async () => {
    const email = `upgrade-${uniqueSuffix(6)}@example.com`;
    const signUp = await authCall("/v1/auth/signup", { email, password: PASSWORD });
    const tenantId = (signUp.body.tenant as { id: string }).id;
    const key = String(
      (await authCall("/v1/keys", { name: "k" }, String(signUp.body.access_token))).body.secret,
    );
    expect((await chat(key, "gemini-2.0-pro")).status).toBe(403);
    await subscribe(tenantId, "pro");
    expect(await eventually(async () => (await chat(key, "gemini-2.0-pro")).status === 200)).toBe(true);
    const login = await authCall("/v1/auth/login", { email, password: PASSWORD });
    expect(decodeJwt(String(login.body.access_token)).tier).toBe("pro");
    const audit = await stack.db
      .forTenant(tenantId)
      .collection("audit_logs")
      .listAll({ filter: "action = 'tenant.tier_change'" });
    expect(audit[0]?.metadata).toMatchObject({ from: "free", to: "pro" });
  });

  it("a catalog change applies after the catalog invalidation", async () => {
    const row = await stack.db.operator
      .collection("models")
      .getFirst({ filter: "model_id = 'gemini-2.0-pro'" });
    expect((await chat(free.key, "gemini-2.0-pro")).status).toBe(403);
    await stack.db.operator.collection("models").update(row?.id ?? "", { required_tier: "free" });
    await stack.redisDb.redis.publish(INVALIDATE_CHANNEL, JSON.stringify({ kind: "catalog" }));
    expect(await eventually(async () => (await chat(free.key, "gemini-2.0-pro")).status === 200)).toBe(true);
    await stack.db.operator.collection("models").update(row?.id ?? "", { required_tier: "pro" });
    await stack.redisDb.redis.publish(INVALIDATE_CHANNEL, JSON.stringify({ kind: "catalog" }));
    expect(await eventually(async () => (await chat(free.key, "gemini-2.0-pro")).status === 403)).toBe(true);
  });

  it("ENABLE_TIER_ENFORCEMENT=false turns the checks off", async () => {
    expect((await chat(free.key, "gpt-5", stack.openRouter.url)).status).toBe(200);
    const listed = await router("/v1/models", free.key, undefined, stack.openRouter.url);
    expect((listed.body.data as Listed[]).every((m) => m.access_status === "allowed")).toBe(true);
  });
});

describe("auth's own process", () => {
  it("issues tokens another service verifies with service-kit's jwtAuth against the JWKS URL, without calling auth", async () => {
    const other = createService({
      name: "billing-like",
      logger: createLogger("billing-like", "silent"),
      readiness: { database: async () => true, redis: async () => true },
      logRequests: false,
    });
    other.app.use(
      "/v1/*",
      jwtAuth({ jwksUrl: `${stack.auth.url}/.well-known/jwks.json`, issuer: "https://auth.localhost" }),
    );
    other.app.get("/v1/whoami", (c) => c.json(c.get("auth") ?? {}));
    const ok = await other.app.request("/v1/whoami", {
      headers: { authorization: `Bearer ${pro.token}` },
    });
    expect(ok.status).toBe(200);
    expect(await ok.json()).toMatchObject({ tenant: pro.tenantId, role: "owner", tier: "pro" });
    const forged = await other.app.request("/v1/whoami", {
      headers: { authorization: `Bearer ${pro.token.slice(0, -4)}AAAA` },
    });
    expect(forged.status).toBe(401);
  });

  it("never writes a password or a secret to its logs", async () => {
    const wrong = "an-attempted-password-42";
    expect((await authCall("/v1/auth/login", { email: free.email, password: wrong })).status).toBe(401);
    const output = stack.auth.output();
    for (const secret of [PASSWORD, wrong, free.key, pro.key]) expect(output).not.toContain(secret);
  });
});

describe("keys between auth and the router", () => {
  it("a revoke through auth is refused by the router within a second", async () => {
    const key = await authCall("/v1/keys", { name: "short-lived" }, pro.token);
    const secret = String(key.body.secret);
    expect((await chat(secret, "claude-3.5-sonnet")).status).toBe(200);
    const id = (key.body.key as { id: string }).id;
    expect((await authCall(`/v1/keys/${id}/revoke`, {}, pro.token)).status).toBe(200);
    expect(await eventually(async () => (await chat(secret, "claude-3.5-sonnet")).status === 401)).toBe(true);
    expect((await chat(secret, "claude-3.5-sonnet")).body).toMatchObject({
      code: "invalid_api_key",
      details: { reason: "revoked" },
    });
  });

  it("after Redis lost every record, the router still authenticates through auth, and Redis has the record again", async () => {
    const key = await authCall("/v1/keys", { name: "survivor" }, enterprise.token);
    const secret = String(key.body.secret);
    await stack.redisDb.redis.flushdb();
    expect(await stack.redisDb.redis.get(redisKeys.keyRecord(await hashApiKey(secret)))).toBeNull();
    const res = await chat(secret, "gpt-5");
    expect(res.status).toBe(200);
    const stored = await stack.redisDb.redis.get(redisKeys.keyRecord(await hashApiKey(secret)));
    expect(JSON.parse(stored ?? "{}")).toMatchObject({
      key_id: (key.body.key as { id: string }).id,
      tier: "enterprise",
    });
  });

  it("an invalid key cannot hammer auth: concurrent misses share one call and the answer is remembered", async () => {
    const resolves = async () =>
      (await stack.auth.flushedLogs()).filter(
        (line) => line.msg === "request" && line.path === "/internal/keys/resolve",
      ).length;
    const before = await resolves();
    const bogus = `cf_live_${"Z".repeat(32)}`;
    const answers = await Promise.all(Array.from({ length: 20 }, () => router("/v1/models", bogus)));
    expect(answers.every((a) => a.status === 401 && a.body.code === "invalid_api_key")).toBe(true);
    for (let i = 0; i < 5; i++) expect((await router("/v1/models", bogus)).status).toBe(401);
    expect((await resolves()) - before).toBe(1);
  });
});
