import { uniqueSuffix } from "@cloudfreedom/testing";
import { generateKeyPair, SignJWT } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ROUTES } from "../../src/routes/index.ts";
import { signAccessToken } from "../../src/services/tokens/access-token.ts";
import { type AuthHarness, type Session, startAuth } from "./harness.ts";

// Every auth-protected route refuses bad credentials with the right status and code, and leaves data unchanged.
let h: AuthHarness;
let victim: {
  owner: Session;
  alice: Session;
  bob: Session;
  bobKey: string;
  ownerKey: string;
  invitation: string;
};
let attacker: Session;
const bad: Record<string, string> = {};

async function snapshot() {
  const scope = h.db.forTenant(victim.owner.tenant.id);
  const [keys, members, invitations, tenant] = await Promise.all([
    scope.collection("api_keys").listAll({ sort: "id" }),
    scope.collection("memberships").listAll({ sort: "id" }),
    scope.collection("invitations").listAll({ sort: "id" }),
    h.db.operator.collection("tenants").getOne(victim.owner.tenant.id),
  ]);
  return JSON.stringify({ keys, members, invitations, tenant });
}

beforeAll(async () => {
  h = await startAuth();
  await h.db.operator.collection("plans").update(h.freePlan.id, { max_users: 0 });
  const owner = await h.signUp();
  const join = async () => {
    const address = `m-${uniqueSuffix()}@cloudfreedom.test`;
    const invitation = await h.call("POST", "/v1/tenant/invitations", {
      token: owner.access_token,
      body: { email: address },
    });
    return h.signUp({ email: address, invitation_token: invitation.body.token });
  };
  const alice = await join();
  const bob = await join();
  const key = async (s: Session) =>
    (
      (await h.call("POST", "/v1/keys", { token: s.access_token, body: { name: "k" } })).body.key as {
        id: string;
      }
    ).id;
  const pending = await h.call("POST", "/v1/tenant/invitations", {
    token: owner.access_token,
    body: { email: `p-${uniqueSuffix()}@cloudfreedom.test` },
  });
  victim = {
    owner,
    alice,
    bob,
    bobKey: await key(bob),
    ownerKey: await key(owner),
    invitation: (pending.body.invitation as { id: string }).id,
  };
  attacker = await h.signUp();

  const claims = {
    sub: owner.user.id,
    tenant: owner.tenant.id,
    role: "owner" as const,
    tier: "enterprise" as const,
  };
  bad.expired = (await signAccessToken(h.service.deps, claims, -60)).token;
  const foreign = await generateKeyPair("ES256");
  const forge = (kid: string) =>
    new SignJWT({ tenant: claims.tenant, role: "owner", tier: "enterprise" })
      .setProtectedHeader({ alg: "ES256", kid })
      .setSubject(claims.sub)
      .setIssuer(h.service.deps.issuer)
      .setIssuedAt()
      .setExpirationTime("10m")
      .sign(foreign.privateKey);
  bad.unknownKid = await forge("not-a-published-kid");
  bad.wrongSignature = await forge(h.service.deps.signing.signer().kid);
  bad.wrongIssuer = await new SignJWT({ tenant: claims.tenant, role: "owner", tier: "free" })
    .setProtectedHeader({ alg: "ES256", kid: h.service.deps.signing.signer().kid })
    .setSubject(claims.sub)
    .setIssuer("https://evil.example")
    .setIssuedAt()
    .setExpirationTime("10m")
    .sign(h.service.deps.signing.signer().privateKey);
  const [header, payload] = owner.access_token.split(".");
  bad.algNone = `${Buffer.from(JSON.stringify({ alg: "none", typ: "JWT" })).toString("base64url")}.${payload}.`;
  bad.malformed = `${header}.not-base64!.sig`;
  const apiKey = await h.call("POST", "/v1/keys", { token: owner.access_token, body: { name: "as-bearer" } });
  bad.apiKey = String(apiKey.body.secret);
});
afterAll(async () => {
  await h?.stop();
});

const userRoutes = ROUTES.filter((route) => route.access === "user");
const concrete = (path: string) =>
  path.replace(":id", "key_aaaaaaaaaaaaaaa").replace(":user_id", "usr_aaaaaaaaaaaaaaa");
const send = (
  method: string,
  path: string,
  token: string | null,
  body: unknown = {},
  headers: Record<string, string> = {},
) => h.call(method.toUpperCase(), path, { token, body: method === "get" ? undefined : body, headers });

describe.each(userRoutes.map((route) => [`${route.method.toUpperCase()} ${route.path}`, route] as const))(
  "%s",
  (_name, route) => {
    it.each([
      ["no credentials", null, "unauthorized"],
      ["a malformed token", "malformed", "unauthorized"],
      ["an expired token", "expired", "token_expired"],
      ["a token signed by an unknown key", "unknownKid", "unauthorized"],
      ["a token with a forged signature", "wrongSignature", "unauthorized"],
      ["a token of another issuer", "wrongIssuer", "unauthorized"],
      ["an unsigned (alg none) token", "algNone", "unauthorized"],
      ["an API key instead of a token", "apiKey", "unauthorized"],
    ])("refuses %s with 401", async (_label, which, code) => {
      const before = await snapshot();
      const res = await send(route.method, concrete(route.path), which === null ? null : (bad[which] ?? "x"));
      expect(res.status).toBe(401);
      expect(res.body).toMatchObject({ status: "error", code });
      expect(await snapshot()).toBe(before);
    });
  },
);

describe("another tenant's token", () => {
  it.each([
    ["read a key", "get", () => `/v1/keys/${victim.bobKey}`, {}],
    ["update a key", "patch", () => `/v1/keys/${victim.bobKey}`, { name: "pwned" }],
    ["rotate a key", "post", () => `/v1/keys/${victim.ownerKey}/rotate`, {}],
    ["revoke a key", "post", () => `/v1/keys/${victim.ownerKey}/revoke`, {}],
    [
      "change a member's role",
      "patch",
      () => `/v1/tenant/members/${victim.alice.user.id}`,
      { role: "owner" },
    ],
    ["remove a member", "delete", () => `/v1/tenant/members/${victim.alice.user.id}`, {}],
    ["revoke an invitation", "delete", () => `/v1/tenant/invitations/${victim.invitation}`, {}],
  ])("cannot %s: 404 as if it did not exist, data unchanged", async (_label, method, path, body) => {
    const before = await snapshot();
    const res = await send(method, path(), attacker.access_token, body);
    expect(res.status).toBe(404);
    expect(res.body.code).toBe("not_found");
    expect(await snapshot()).toBe(before);
  });

  it("lists only its own tenant's keys and members", async () => {
    const keys = (await send("get", "/v1/keys", attacker.access_token)).body.items as unknown[];
    expect(keys).toEqual([]);
    const members = (await send("get", "/v1/tenant/members", attacker.access_token)).body.items as Array<{
      user_id: string;
    }>;
    expect(members.map((m) => m.user_id)).toEqual([attacker.user.id]);
  });

  it("cannot switch into a tenant it does not belong to", async () => {
    const res = await send("post", "/v1/auth/switch-tenant", attacker.access_token, {
      tenant: victim.owner.tenant.slug,
    });
    expect(res.status).toBe(403);
  });
});

describe("a member acting on another member's key", () => {
  it.each([
    ["read", "get", {}],
    ["update", "patch", { name: "mine now" }],
    ["rotate", "post", {}],
    ["revoke", "post", {}],
  ])("cannot %s it: 404, data unchanged", async (verb, method, body) => {
    const before = await snapshot();
    const suffix = verb === "rotate" ? "/rotate" : verb === "revoke" ? "/revoke" : "";
    const res = await send(method, `/v1/keys/${victim.bobKey}${suffix}`, victim.alice.access_token, body);
    expect(res.status).toBe(404);
    expect(await snapshot()).toBe(before);
  });
});

describe("internal routes", () => {
  it.each([
    ["no internal token", {}],
    ["a wrong internal token", { "x-internal-token": "a".repeat(40) }],
    ["a user's access token instead", { authorization: "Bearer x" }],
  ])("refuse %s with 401", async (_label, headers) => {
    for (const route of ROUTES.filter((r) => r.access === "internal")) {
      const res = await send(route.method, route.path, null, { key_hash: "a".repeat(64) }, headers);
      expect(res.status).toBe(401);
    }
  });
});
