import { uniqueSuffix } from "@cloudfreedom/testing";
import { createLocalJWKSet, decodeProtectedHeader, type JSONWebKeySet, jwtVerify } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type AuthHarness, PASSWORD, startAuth } from "./harness.ts";

let h: AuthHarness;
beforeAll(async () => {
  h = await startAuth({
    LOGIN_MAX_FAILURES_PER_ACCOUNT: "3",
    LOGIN_MAX_PER_IP: "12",
    SIGNUP_MAX_PER_IP: "6",
  });
});
afterAll(async () => {
  await h?.stop();
});

const login = (email: string, password: string, ip = `203.0.113.${Math.floor(Math.random() * 250)}`) =>
  h.call("POST", "/v1/auth/login", { body: { email, password }, headers: { "x-forwarded-for": ip } });
const jwks = async () =>
  createLocalJWKSet((await h.call("GET", "/.well-known/jwks.json")).body as unknown as JSONWebKeySet);

describe("sign-up", () => {
  it("creates the user, a personal tenant on the free plan and makes the user its owner", async () => {
    const session = await h.signUp({ name: "Ada", tenant_slug: `ada-${Date.now()}` });
    expect(session).toMatchObject({
      role: "owner",
      tenant: { tier: "free" },
      user: { email: expect.stringContaining("@") },
    });
    const tenant = await h.db.operator.collection("tenants").getOne(session.tenant.id);
    expect(tenant).toMatchObject({ plan: h.freePlan.id, tier: "free", status: "active" });
    const user = await h.db.operator.collection("users").getOne(session.user.id);
    expect(user).toMatchObject({ name: "Ada", default_tenant: tenant.id });
    const members = await h.db.forTenant(tenant.id).collection("memberships").listAll({});
    expect(members.map((m) => [m.user, m.role])).toEqual([[user.id, "owner"]]);
  });

  it("refuses an e-mail that exists, and leaves no half-made tenant behind", async () => {
    const first = await h.signUp();
    const before = (await h.db.operator.collection("tenants").list({ perPage: 1 })).totalItems;
    const again = await h.call("POST", "/v1/auth/signup", {
      body: { email: first.user.email, password: PASSWORD },
    });
    expect(again.status).toBe(409);
    expect(again.body).toMatchObject({ code: "conflict", details: { field: "email" } });
    expect((await h.db.operator.collection("tenants").list({ perPage: 1 })).totalItems).toBe(before);
  });

  it("limits sign-up attempts per IP, a refused e-mail included, and says when to retry", async () => {
    const from = (ip: string, email = `ip-${uniqueSuffix()}@cloudfreedom.test`) =>
      h.call("POST", "/v1/auth/signup", {
        body: { email, password: PASSWORD },
        headers: { "x-forwarded-for": ip },
      });
    const first = await from("192.0.2.77");
    expect(first.status).toBe(201);
    // SIGNUP_MAX_PER_IP is 6 here: probing a taken address counts like a sign-up.
    expect((await from("192.0.2.77", (first.body.user as { email: string }).email)).status).toBe(409);
    for (let i = 0; i < 4; i++) expect((await from("192.0.2.77")).status).toBe(201);
    const email = `ip-over-${uniqueSuffix()}@cloudfreedom.test`;
    const refused = await from("192.0.2.77", email);
    expect(refused.status).toBe(429);
    expect(refused.body).toMatchObject({
      code: "too_many_attempts",
      message: expect.stringMatching(
        /^Too many sign-ups from this address: at most 6 per hour \(SIGNUP_MAX_PER_IP\)/,
      ),
      details: { limit: "signup:ip", max: 6, window_s: 3600 },
    });
    expect(Number(refused.headers.get("retry-after"))).toBeGreaterThan(0);
    const users = await h.db.operator.collection("users").list({ perPage: 1, filter: `email = "${email}"` });
    expect(users.totalItems).toBe(0);
    expect((await from("192.0.2.78", email)).status).toBe(201);
  });

  it.each([
    ["a reserved name", "admin", "reserved"],
    ["another reserved name", "www", "reserved"],
    ["an invalid DNS label", "-Bad_Slug", undefined],
  ])("refuses %s as tenant slug", async (_name, slug, reason) => {
    const res = await h.call("POST", "/v1/auth/signup", {
      body: { email: `s-${Date.now()}@cloudfreedom.test`, password: PASSWORD, tenant_slug: slug },
    });
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({
      code: "validation_failed",
      details: { field: "tenant_slug", ...(reason ? { reason } : {}) },
    });
  });

  it("names the field of a bad body", async () => {
    const res = await h.call("POST", "/v1/auth/signup", {
      body: { email: "not-an-email", password: "short" },
    });
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({ code: "validation_failed", details: { field: "email" } });
  });
});

describe("log-in and tokens", () => {
  it("issues an ES256 access token with kid and the sub/tenant/role/tier claims, verifiable with the JWKS", async () => {
    const session = await h.signUp();
    const res = await login(session.user.email, PASSWORD);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      token_type: "Bearer",
      expires_in: 900,
      refresh_token: expect.stringMatching(/^cfr_/),
    });
    const token = String(res.body.access_token);
    expect(decodeProtectedHeader(token)).toMatchObject({ alg: "ES256", kid: expect.any(String) });
    const { payload } = await jwtVerify(token, await jwks(), { issuer: "https://auth.localhost" });
    expect(payload).toMatchObject({
      sub: session.user.id,
      tenant: session.tenant.id,
      role: "owner",
      tier: "free",
    });
    expect(Number(payload.exp) - Number(payload.iat)).toBe(900);
  });

  it("answers a wrong password and an unknown e-mail alike, audits the failure and never logs the password", async () => {
    const session = await h.signUp();
    const wrong = await login(session.user.email, "wrong-password-123");
    const unknown = await login("nobody@cloudfreedom.test", "wrong-password-123");
    for (const res of [wrong, unknown]) {
      expect(res.status).toBe(401);
      expect(res.body).toMatchObject({ code: "invalid_credentials", message: "Invalid e-mail or password" });
    }
    const audit = await h.db
      .forTenant(session.tenant.id)
      .collection("audit_logs")
      .listAll({ filter: "action = 'auth.login'" });
    expect(audit).toEqual([
      expect.objectContaining({
        outcome: "failure",
        actor_id: session.user.id,
        ip: expect.stringMatching(/^203\./),
      }),
    ]);
    expect(JSON.stringify(audit)).not.toContain("wrong-password-123");
  });

  it("locks an account after repeated failures, from any IP, and says when to retry", async () => {
    const session = await h.signUp();
    for (let i = 0; i < 3; i++) expect((await login(session.user.email, "nope-nope-nope")).status).toBe(401);
    const locked = await login(session.user.email, PASSWORD);
    expect(locked.status).toBe(429);
    expect(locked.body).toMatchObject({
      code: "too_many_attempts",
      details: { limit: "login-failures:account" },
    });
    expect(Number(locked.headers.get("retry-after"))).toBeGreaterThan(0);
  });

  it("counts guesses sent in parallel from many IPs: no more than the limit are checked", async () => {
    const session = await h.signUp();
    const guesses = await Promise.all(
      Array.from({ length: 12 }, (_, i) =>
        login(session.user.email, `wrong-guess-${i}`, `198.51.100.${i + 1}`),
      ),
    );
    const statuses = guesses.map((res) => res.status);
    // LOGIN_MAX_FAILURES_PER_ACCOUNT is 3 here: three guesses are checked, the rest refused unchecked.
    expect(statuses.filter((status) => status === 401)).toHaveLength(3);
    expect(statuses.filter((status) => status === 429)).toHaveLength(9);
  });

  it("limits login attempts per IP", async () => {
    const session = await h.signUp();
    const statuses: number[] = [];
    for (let i = 0; i < 13; i++)
      statuses.push((await login(session.user.email, PASSWORD, "192.0.2.44")).status);
    expect(statuses.slice(0, 12).every((s) => s === 200)).toBe(true);
    expect(statuses[12]).toBe(429);
  });

  it("rotates refresh tokens, and a reused one revokes the whole family", async () => {
    const session = await h.signUp();
    const first = await h.call("POST", "/v1/auth/refresh", {
      body: { refresh_token: session.refresh_token },
    });
    expect(first.status).toBe(200);
    const second = String(first.body.refresh_token);
    expect(second).not.toBe(session.refresh_token);

    const replay = await h.call("POST", "/v1/auth/refresh", {
      body: { refresh_token: session.refresh_token },
    });
    expect(replay.status).toBe(401);
    // The legitimate successor dies too: the family is revoked.
    const after = await h.call("POST", "/v1/auth/refresh", { body: { refresh_token: second } });
    expect(after.status).toBe(401);
    const audit = await h.db
      .forTenant(session.tenant.id)
      .collection("audit_logs")
      .listAll({ filter: "action = 'auth.refresh_reuse'" });
    expect(audit).toHaveLength(1);
  });

  it("logs out: the refresh token stops working", async () => {
    const session = await h.signUp();
    expect(
      (await h.call("POST", "/v1/auth/logout", { body: { refresh_token: session.refresh_token } })).status,
    ).toBe(204);
    expect(
      (await h.call("POST", "/v1/auth/refresh", { body: { refresh_token: session.refresh_token } })).status,
    ).toBe(401);
  });

  it("changes the password only with the current one, and ends the other sessions", async () => {
    const session = await h.signUp();
    const bad = await h.call("POST", "/v1/auth/password", {
      token: session.access_token,
      body: { current_password: "wrong-one-xx", new_password: "a-new-long-password" },
    });
    expect(bad.status).toBe(401);
    expect(bad.body).toMatchObject({ code: "invalid_credentials", details: { field: "current_password" } });
    const ok = await h.call("POST", "/v1/auth/password", {
      token: session.access_token,
      body: { current_password: PASSWORD, new_password: "a-new-long-password" },
    });
    expect(ok.status).toBe(204);
    expect((await login(session.user.email, PASSWORD)).status).toBe(401);
    expect((await login(session.user.email, "a-new-long-password")).status).toBe(200);
    expect(
      (await h.call("POST", "/v1/auth/refresh", { body: { refresh_token: session.refresh_token } })).status,
    ).toBe(401);
  });

  it("ends the access tokens issued before a password change, so a stolen one cannot mint a new session", async () => {
    // No pause: a token of the change's own second is ended too (tokens carry their issue time in ms).
    const session = await h.signUp();
    const changed = await h.call("POST", "/v1/auth/password", {
      token: session.access_token,
      body: { current_password: PASSWORD, new_password: "another-long-password" },
    });
    expect(changed.status).toBe(204);
    const minted = await h.call("POST", "/v1/auth/switch-tenant", {
      token: session.access_token,
      body: { tenant: session.tenant.id },
    });
    expect(minted.status).toBe(401);
    expect(minted.body).toMatchObject({
      code: "unauthorized",
      message: expect.stringContaining("log in again"),
    });
    expect((await h.call("GET", "/v1/me", { token: session.access_token })).status).toBe(401);
    const fresh = await login(session.user.email, "another-long-password");
    expect((await h.call("GET", "/v1/me", { token: String(fresh.body.access_token) })).status).toBe(200);
  });

  it("says an API key is not an access token", async () => {
    const session = await h.signUp();
    const key = await h.call("POST", "/v1/keys", { token: session.access_token, body: { name: "k" } });
    const res = await h.call("GET", "/v1/me", { token: String(key.body.secret) });
    expect(res.status).toBe(401);
    expect(res.body).toMatchObject({
      code: "unauthorized",
      message: expect.stringContaining("not an API key"),
    });
  });

  it("tells the caller who they are", async () => {
    const session = await h.signUp();
    const me = await h.call("GET", "/v1/me", { token: session.access_token });
    expect(me.body).toMatchObject({
      user: { id: session.user.id },
      tenant: { id: session.tenant.id, role: "owner" },
      role: "owner",
      tier: "free",
      tenants: [expect.objectContaining({ id: session.tenant.id })],
    });
  });

  it("lists no OAuth2 provider when PocketBase has none configured", async () => {
    const res = await h.call("GET", "/v1/auth/oauth2/providers");
    expect(res).toMatchObject({ status: 200, body: { enabled: false, providers: [] } });
    const login = await h.call("POST", "/v1/auth/oauth2", {
      body: { provider: "google", code: "x", code_verifier: "y", redirect_url: "http://localhost/cb" },
    });
    expect(login.status).toBe(400);
    expect(login.body).toMatchObject({
      code: "validation_failed",
      message: expect.stringContaining("not set up"),
      details: { field: "provider" },
    });
  });

  // Listing builds the authorization URL locally; the code exchange would reach the provider, so it is not run here.
  it("passes through the OAuth2 providers an operator configured in PocketBase, never their secrets", async () => {
    await h.db.client.call((pb) =>
      pb.collections.update("users", {
        oauth2: {
          enabled: true,
          providers: [{ name: "github", clientId: "cf-client-id", clientSecret: "cf-client-secret" }],
        },
      }),
    );
    const res = await h.call("GET", "/v1/auth/oauth2/providers");
    expect(res.body).toMatchObject({
      enabled: true,
      providers: [
        {
          name: "github",
          state: expect.any(String),
          code_verifier: expect.any(String),
          code_challenge_method: "S256",
        },
      ],
    });
    const provider = (res.body.providers as Array<{ auth_url: string }>)[0];
    expect(provider?.auth_url).toContain("client_id=cf-client-id");
    expect(JSON.stringify(res.body)).not.toContain("cf-client-secret");
  });
});
