import { hashApiKey, KeyRecord, redisKeys } from "@cloudfreedom/shared";
import {
  type OidcIdentity,
  type OidcProviderHandle,
  startOidcProvider,
  uniqueSuffix,
} from "@cloudfreedom/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type AuthHarness, PASSWORD, type Session, startAuth } from "./harness.ts";

// The whole code exchange runs: auth → PocketBase's `oidc` provider → this OpenID Connect provider's token and
// userinfo endpoints. `issueCode` stands in for the user's consent in the browser.
let h: AuthHarness;
let provider: OidcProviderHandle;
beforeAll(async () => {
  [h, provider] = await Promise.all([startAuth(), startOidcProvider()]);
  await h.db.client.call((pb) =>
    pb.collections.update("users", {
      oauth2: {
        enabled: true,
        providers: [
          {
            name: "oidc",
            displayName: "Test OIDC",
            clientId: "cf-test-client",
            clientSecret: "cf-test-secret",
            ...provider.endpoints,
          },
        ],
      },
    }),
  );
});
afterAll(async () => {
  await Promise.all([h?.stop(), provider?.stop()]);
});

const identity = (email = `o-${uniqueSuffix()}@cloudfreedom.test`): OidcIdentity => ({
  sub: `sub-${uniqueSuffix()}`,
  email,
  name: "Grace",
});
const oauth2 = (who: OidcIdentity, code = provider.issueCode(who)) =>
  h.call("POST", "/v1/auth/oauth2", {
    body: {
      provider: "oidc",
      code,
      code_verifier: "v".repeat(43),
      redirect_url: "https://app.cloudfreedom.test/oauth2-redirect",
    },
  });
const me = (token: string) => h.call("GET", "/v1/me", { token });
const keyRecord = async (secret: string) => {
  const raw = await h.redisDb.redis.get(redisKeys.keyRecord(await hashApiKey(secret)));
  return raw === null ? null : KeyRecord.parse(JSON.parse(raw));
};
const createKey = async (
  session: { access_token: string },
  body: Record<string, unknown> = { name: "ci" },
) => {
  const res = await h.call("POST", "/v1/keys", { token: session.access_token, body });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return String(res.body.secret);
};
// Access tokens are stamped in whole seconds, and those of an ending's own second stay valid: let one pass.
const nextSecond = () => new Promise((resolve) => setTimeout(resolve, 1_100));

describe("OAuth2 log-in", () => {
  it("signs a new user up with a personal tenant, and logs the same user in to it the next time", async () => {
    const who = identity();
    const first = await oauth2(who);
    expect(first.status, JSON.stringify(first.body)).toBe(200);
    expect(first.body).toMatchObject({ role: "owner", user: { email: who.email, verified: true } });
    expect(provider.exchanges.at(-1)).toMatchObject({
      grant_type: "authorization_code",
      redirect_uri: "https://app.cloudfreedom.test/oauth2-redirect",
      code_verifier: "v".repeat(43),
    });
    const session = first.body as unknown as Session;
    const again = await oauth2(who);
    expect(again.status).toBe(200);
    expect(again.body).toMatchObject({ user: { id: session.user.id }, tenant: { id: session.tenant.id } });
    const tenants = await h.db.operator.collection("users").getOne(session.user.id);
    expect(tenants.default_tenant).toBe(session.tenant.id);
  });

  it("refuses a code the provider does not know, or one already used, and changes nothing", async () => {
    const who = identity();
    const code = provider.issueCode(who);
    expect((await oauth2(who, code)).status).toBe(200);
    const reused = await oauth2(who, code);
    expect(reused.status).toBe(401);
    expect(reused.body).toMatchObject({ code: "invalid_credentials", details: { provider: "oidc" } });
    const unknown = await oauth2(identity(), "code_never_issued");
    expect(unknown.status).toBe(401);
    const disabled = await h.call("POST", "/v1/auth/oauth2", {
      body: { provider: "google", code, code_verifier: "v".repeat(43), redirect_url: "http://localhost/cb" },
    });
    expect(disabled.status).toBe(400);
    expect(disabled.body).toMatchObject({
      code: "validation_failed",
      message: expect.stringContaining("/v1/auth/oauth2/providers"),
      details: { field: "provider" },
    });
  });

  it("keeps the sessions and keys of an account that logs in with OAuth2 again", async () => {
    const who = identity();
    const session = (await oauth2(who)).body as unknown as Session;
    const secret = await createKey(session);
    expect((await oauth2(who)).status).toBe(200);
    expect((await me(session.access_token)).status).toBe(200);
    expect(
      (await h.call("POST", "/v1/auth/refresh", { body: { refresh_token: session.refresh_token } })).status,
    ).toBe(200);
    expect(await keyRecord(secret)).toMatchObject({ revoked: false });
  });

  it("takes an account pre-created with the owner's e-mail away from whoever created it", async () => {
    // Someone signs up with the victim's address (never verified), keeps a session, makes a key of its own and
    // a service key of the tenant, and invites another address.
    const email = `victim-${uniqueSuffix()}@cloudfreedom.test`;
    const squatter = await h.signUp({ email });
    const secret = await createKey(squatter);
    const serviceSecret = await createKey(squatter, { name: "service", user_id: null });
    const invited = await h.call("POST", "/v1/tenant/invitations", {
      token: squatter.access_token,
      body: { email: `accomplice-${uniqueSuffix()}@cloudfreedom.test` },
    });
    expect(invited.status, JSON.stringify(invited.body)).toBe(201);
    await nextSecond();
    // The owner of the address logs in with OAuth2: PocketBase links the provider to that account.
    const ownerIdentity = identity(email);
    const owner = await oauth2(ownerIdentity);
    expect(owner.status, JSON.stringify(owner.body)).toBe(200);
    expect(owner.body).toMatchObject({ user: { id: squatter.user.id, verified: true } });

    expect((await me(squatter.access_token)).status).toBe(401);
    expect(
      (await h.call("POST", "/v1/auth/refresh", { body: { refresh_token: squatter.refresh_token } })).status,
    ).toBe(401);
    expect((await h.call("POST", "/v1/auth/login", { body: { email, password: PASSWORD } })).status).toBe(
      401,
    );
    expect(await keyRecord(secret)).toMatchObject({ revoked: true });
    expect(await keyRecord(serviceSecret)).toMatchObject({ revoked: true });
    const invitation = await h.db
      .forTenant(squatter.tenant.id)
      .collection("invitations")
      .getOne((invited.body.invitation as { id: string }).id);
    expect(invitation.revoked_at).not.toBe("");
    const audit = await h.db.forTenant(squatter.tenant.id).collection("audit_logs").listAll({
      filter: "action = 'auth.oauth2_reclaim'",
    });
    expect(audit).toEqual([
      expect.objectContaining({
        outcome: "success",
        metadata: { provider: "oidc", keys_revoked: 2, invitations_revoked: 1 },
      }),
    ]);
    expect((await h.db.operator.collection("users").getOne(squatter.user.id)).reclaim_pending).toBe(false);
    // The owner's own session works, and a later log-in reclaims nothing more.
    expect((await me(String(owner.body.access_token))).status).toBe(200);
    expect((await oauth2(ownerIdentity)).status).toBe(200);
    expect((await me(String(owner.body.access_token))).status).toBe(200);
  });

  it("finishes a reclaim that was cut short at the next log-in", async () => {
    const who = identity();
    const session = (await oauth2(who)).body as unknown as Session;
    const secret = await createKey(session);
    // As if the log-in that linked the account had failed after PocketBase flagged it.
    await h.db.operator.collection("users").update(session.user.id, { reclaim_pending: true });
    // Until the reclaim is finished, what the account was issued earlier renews nothing.
    const renewed = await h.call("POST", "/v1/auth/refresh", {
      body: { refresh_token: session.refresh_token },
    });
    expect(renewed.status).toBe(401);
    const switched = await h.call("POST", "/v1/auth/switch-tenant", {
      token: session.access_token,
      body: { tenant: session.tenant.id },
    });
    expect(switched.status).toBe(401);
    await nextSecond();
    const again = await oauth2(who);
    expect(again.status).toBe(200);
    expect((await me(session.access_token)).status).toBe(401);
    expect(await keyRecord(secret)).toMatchObject({ revoked: true });
    expect((await h.db.operator.collection("users").getOne(session.user.id)).reclaim_pending).toBe(false);
    expect((await me(String(again.body.access_token))).status).toBe(200);
  });
});
