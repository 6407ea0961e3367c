import { toPbDate } from "@cloudfreedom/db";
import { createRuntime, parseEnv } from "@cloudfreedom/service-kit";
import { hashApiKey, KeyRecord, redisKeys } from "@cloudfreedom/shared";
import { uniqueSuffix } from "@cloudfreedom/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildAuthApp } from "../../src/app.ts";
import { AuthEnv } from "../../src/env.ts";
import { type AuthHarness, INTERNAL_TOKEN, type Session, startAuth } from "./harness.ts";

let h: AuthHarness;
beforeAll(async () => {
  h = await startAuth({ KEY_CREATE_MAX_PER_USER: "8" });
});
afterAll(async () => {
  await h?.stop();
});

interface Key {
  id: string;
  status: string;
  user_id: string | null;
  grace_until: string | null;
}
const stored = async (secret: string) => {
  const raw = await h.redisDb.redis.get(redisKeys.keyRecord(await hashApiKey(secret)));
  return raw === null ? null : KeyRecord.parse(JSON.parse(raw));
};
async function create(session: Session, body: Record<string, unknown> = { name: "ci" }) {
  const res = await h.call("POST", "/v1/keys", { token: session.access_token, body });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return { key: res.body.key as Key, secret: String(res.body.secret) };
}
async function team() {
  const owner = await h.signUp();
  const addMember = async () => {
    const address = `m-${uniqueSuffix()}@cloudfreedom.test`;
    const invitation = await h.call("POST", "/v1/tenant/invitations", {
      token: owner.access_token,
      body: { email: address },
    });
    return h.signUp({ email: address, invitation_token: invitation.body.token });
  };
  return { owner, alice: await addMember(), bob: await addMember() };
}

describe("creating and listing keys", () => {
  it("shows the secret once, stores only its hash, and writes the KeyRecord to Redis", async () => {
    const owner = await h.signUp();
    const { key, secret } = await create(owner, {
      name: "ci",
      scopes: ["chat"],
      models: ["gpt-4o-mini"],
      rpm: 60,
      budget_micros: 5_000_000,
    });
    expect(secret).toMatch(/^cf_live_[0-9A-Za-z]{32}$/);
    expect(key).toMatchObject({
      name: "ci",
      prefix: secret.slice(0, 12),
      user_id: owner.user.id,
      status: "active",
      rpm: 60,
      tpm: null,
    });
    const row = await h.db.forTenant(owner.tenant.id).collection("api_keys").getOne(key.id);
    expect(row.hash).toBe(await hashApiKey(secret));
    expect(JSON.stringify(row)).not.toContain(secret);
    expect(await stored(secret)).toMatchObject({
      key_id: key.id,
      tenant_id: owner.tenant.id,
      user_id: owner.user.id,
      tier: "free",
      scopes: ["chat"],
      models: ["gpt-4o-mini"],
      rpm: 60,
      budget_micros: 5_000_000,
      revoked: false,
    });
    const list = await h.call("GET", "/v1/keys", { token: owner.access_token });
    expect(list.body).toMatchObject({ total: 1, items: [{ id: key.id }] });
    expect(JSON.stringify(list.body)).not.toContain(secret.slice(12));
  });

  it("names the field of a bad setting", async () => {
    const owner = await h.signUp();
    for (const [body, field] of [
      [{ name: "" }, "name"],
      [{ name: "x", scopes: ["root"] }, "scopes.0"],
      [{ name: "x", rpm: -1 }, "rpm"],
      // Stored, 0 would read as no limit at all.
      [{ name: "x", budget_micros: 0 }, "budget_micros"],
      [{ name: "x", tpm: 0 }, "tpm"],
      [{ name: "x", expires_at: "2001-01-01T00:00:00Z" }, "expires_at"],
    ] as const) {
      const res = await h.call("POST", "/v1/keys", { token: owner.access_token, body });
      expect(res.status).toBe(400);
      expect(res.body).toMatchObject({ code: "validation_failed", details: { field } });
    }
    const zero = await h.call("POST", "/v1/keys", { token: owner.access_token, body: { name: "x", rpm: 0 } });
    expect(zero.body.message).toContain("0 would read as no limit");
  });

  it("lets members see and manage only their own keys, owners all of the tenant's", async () => {
    const { owner, alice, bob } = await team();
    const ownKey = await create(alice);
    const bobKey = await create(bob);
    const aliceList = (await h.call("GET", "/v1/keys", { token: alice.access_token })).body.items as Key[];
    expect(aliceList.map((k) => k.id)).toEqual([ownKey.key.id]);
    const ownerList = (await h.call("GET", "/v1/keys", { token: owner.access_token })).body.items as Key[];
    expect(ownerList.map((k) => k.id).sort()).toEqual([ownKey.key.id, bobKey.key.id].sort());
    expect((await h.call("GET", `/v1/keys/${bobKey.key.id}`, { token: alice.access_token })).status).toBe(
      404,
    );
    expect(
      (await h.call("POST", `/v1/keys/${bobKey.key.id}/revoke`, { token: owner.access_token })).status,
    ).toBe(200);
  });

  it("keeps privileged scopes and keys for others to owners and admins", async () => {
    const { owner, alice } = await team();
    expect(
      (
        await h.call("POST", "/v1/keys", {
          token: alice.access_token,
          body: { name: "x", scopes: ["admin"] },
        })
      ).status,
    ).toBe(403);
    expect(
      (
        await h.call("POST", "/v1/keys", {
          token: alice.access_token,
          body: { name: "x", user_id: owner.user.id },
        })
      ).status,
    ).toBe(403);
    const tenantKey = await create(owner, { name: "service", user_id: null, scopes: ["chat", "billing"] });
    expect(tenantKey.key.user_id).toBeNull();
    expect((await stored(tenantKey.secret))?.user_id).toBeNull();
  });

  it("rate limits key creation per user", async () => {
    const owner = await h.signUp();
    const statuses: number[] = [];
    for (let i = 0; i < 9; i++)
      statuses.push(
        (await h.call("POST", "/v1/keys", { token: owner.access_token, body: { name: `k${i}` } })).status,
      );
    expect(statuses.slice(0, 8).every((s) => s === 201)).toBe(true);
    expect(statuses[8]).toBe(429);
  });
});

describe("changing keys", () => {
  it("updates settings and the KeyRecord, null clearing a limit", async () => {
    const owner = await h.signUp();
    const { key, secret } = await create(owner, { name: "a", rpm: 10 });
    const expires = new Date(Date.now() + 86_400_000).toISOString();
    const res = await h.call("PATCH", `/v1/keys/${key.id}`, {
      token: owner.access_token,
      body: { name: "b", rpm: null, tpm: 5000, expires_at: expires, models: ["gpt-5"] },
    });
    expect(res.body).toMatchObject({ name: "b", rpm: null, tpm: 5000, models: ["gpt-5"] });
    expect(await stored(secret)).toMatchObject({
      rpm: null,
      tpm: 5000,
      models: ["gpt-5"],
      expires_at: Date.parse(expires),
    });
  });

  it("rotates: a new secret with the same settings; the old one lives until grace_until, then dies", async () => {
    const owner = await h.signUp();
    const { key, secret } = await create(owner, { name: "prod", rpm: 30 });
    const res = await h.call("POST", `/v1/keys/${key.id}/rotate`, {
      token: owner.access_token,
      body: { grace_period_s: 600 },
    });
    expect(res.status).toBe(201);
    const successor = res.body.key as Key & { rotated_from: string; rpm: number };
    expect(successor).toMatchObject({ rotated_from: key.id, rpm: 30, status: "active" });
    expect(res.body.previous).toMatchObject({ id: key.id, status: "grace" });
    const old = await stored(secret);
    expect(old?.revoked).toBe(false);
    expect(old?.expires_at).toBeGreaterThan(Date.now() + 590_000);
    expect(old?.expires_at).toBeLessThanOrEqual(Date.now() + 600_000);
    expect((await stored(String(res.body.secret)))?.key_id).toBe(successor.id);
    expect(
      (await h.call("POST", `/v1/keys/${key.id}/rotate`, { token: owner.access_token, body: {} })).status,
    ).toBe(409);

    const now = await h.call("POST", `/v1/keys/${successor.id}/rotate`, {
      token: owner.access_token,
      body: { grace_period_s: 0 },
    });
    expect(now.body.previous).toMatchObject({ status: "revoked" });
  });

  it.each([
    // With a grace the old record must end then; without one it must say revoked.
    [
      "with a grace",
      600,
      { expires_at: null },
      (r: KeyRecord | null) => (r?.expires_at ?? 0) > Date.now() + 590_000,
    ],
    ["without a grace", 0, { revoked: false }, (r: KeyRecord | null) => r?.revoked === true],
  ] as const)(
    "a rotation %s cut short after its rows changed is finished when it is tried again",
    async (_name, grace, stale, finished) => {
      const owner = await h.signUp();
      const { key, secret } = await create(owner, { name: "prod" });
      const rotated = await h.call("POST", `/v1/keys/${key.id}/rotate`, {
        token: owner.access_token,
        body: { grace_period_s: grace },
      });
      expect(rotated.status).toBe(201);
      expect(finished(await stored(secret))).toBe(true);
      // As if the old key's record had not been rewritten.
      const record = redisKeys.keyRecord(await hashApiKey(secret));
      await h.redisDb.redis.set(record, JSON.stringify({ ...(await stored(secret)), ...stale }));
      expect(finished(await stored(secret))).toBe(false);
      const again = await h.call("POST", `/v1/keys/${key.id}/rotate`, {
        token: owner.access_token,
        body: {},
      });
      expect(again.status).toBe(409);
      expect(finished(await stored(secret))).toBe(true);
      expect(await h.redisDb.redis.pttl(record)).toBeGreaterThan(0);
    },
  );

  it("a removal cut short after a key's row was revoked revokes its record when it is tried again", async () => {
    const { owner, alice: member } = await team();
    const { key, secret } = await create(member);
    // As if an earlier removal had revoked the row and then failed before writing the record.
    await h.db
      .forTenant(owner.tenant.id)
      .collection("api_keys")
      .update(key.id, { revoked_at: toPbDate(Date.now()) });
    expect((await stored(secret))?.revoked).toBe(false);
    const removed = await h.call("DELETE", `/v1/tenant/members/${member.user.id}`, {
      token: owner.access_token,
    });
    expect(removed.status).toBe(204);
    expect((await stored(secret))?.revoked).toBe(true);
  });

  it("revokes at once: the KeyRecord says revoked and the revoke is audited", async () => {
    const owner = await h.signUp();
    const { key, secret } = await create(owner);
    const res = await h.call("POST", `/v1/keys/${key.id}/revoke`, { token: owner.access_token });
    expect(res.body).toMatchObject({ status: "revoked" });
    expect((await stored(secret))?.revoked).toBe(true);
    expect(
      (await h.call("PATCH", `/v1/keys/${key.id}`, { token: owner.access_token, body: { name: "z" } }))
        .status,
    ).toBe(409);
    const audit = await h.db
      .forTenant(owner.tenant.id)
      .collection("audit_logs")
      .listAll({ filter: "target_id = {:id}", params: { id: key.id }, sort: "created" });
    expect(audit.map((a) => a.action)).toEqual(["key.create", "key.revoke"]);
  });

  it("revoking a revoked key again answers the same and writes no second audit entry", async () => {
    const owner = await h.signUp();
    const { key, secret } = await create(owner);
    const first = await h.call("POST", `/v1/keys/${key.id}/revoke`, { token: owner.access_token });
    const again = await h.call("POST", `/v1/keys/${key.id}/revoke`, { token: owner.access_token });
    expect(again.status).toBe(200);
    expect(again.body).toEqual(first.body);
    expect((await stored(secret))?.revoked).toBe(true);
    const audit = await h.db
      .forTenant(owner.tenant.id)
      .collection("audit_logs")
      .listAll({ filter: "target_id = {:id}", params: { id: key.id }, sort: "created" });
    expect(audit.map((a) => [a.action, a.outcome])).toEqual([
      ["key.create", "success"],
      ["key.revoke", "success"],
    ]);
  });
});

describe("a key that is not there", () => {
  it("answers 404 naming the API key, whether missing or another member's", async () => {
    const { alice, bob } = await team();
    const missing = await h.call("POST", "/v1/keys/key_doesnotexist00/revoke", { token: alice.access_token });
    expect(missing.status).toBe(404);
    expect(missing.body).toMatchObject({
      code: "not_found",
      message: 'No API key "key_doesnotexist00" in this tenant',
    });
    const bobKey = await create(bob);
    const other = await h.call("GET", `/v1/keys/${bobKey.key.id}`, { token: alice.access_token });
    expect(other.status).toBe(404);
    expect(other.body.message).toBe(`No API key "${bobKey.key.id}" in this tenant`);
  });
});

describe("internal key resolve", () => {
  const resolve = (hash: string, token: string | null = INTERNAL_TOKEN) =>
    h.call("POST", "/internal/keys/resolve", {
      body: { key_hash: hash },
      headers: token === null ? {} : { "x-internal-token": token },
    });

  it("rebuilds a record Redis lost and writes it back", async () => {
    const owner = await h.signUp();
    const { key, secret } = await create(owner);
    const hash = await hashApiKey(secret);
    await h.redisDb.redis.flushdb();
    const res = await resolve(hash);
    expect(res).toMatchObject({ status: 200, body: { key_id: key.id, tenant_id: owner.tenant.id } });
    expect((await stored(secret))?.key_id).toBe(key.id);
  });

  it("answers 404 for an unknown hash and 400 for a malformed one", async () => {
    expect((await resolve("a".repeat(64))).status).toBe(404);
    expect((await resolve("xyz")).body).toMatchObject({
      code: "validation_failed",
      details: { field: "key_hash" },
    });
  });

  it("refuses a missing or wrong internal token", async () => {
    expect((await resolve("a".repeat(64), null)).status).toBe(401);
    expect((await resolve("a".repeat(64), `${INTERNAL_TOKEN}x`)).status).toBe(401);
  });

  it("is refused entirely when INTERNAL_TOKEN is unset", async () => {
    // A second app on the same PocketBase and Redis, configured without the token.
    const runtime = await createRuntime("auth", parseEnv("auth", AuthEnv, { ...h.env, INTERNAL_TOKEN: "" }));
    const bare = await buildAuthApp(runtime);
    try {
      const res = await bare.app.request("/internal/keys/resolve", {
        method: "POST",
        headers: { "content-type": "application/json", "x-internal-token": "" },
        body: JSON.stringify({ key_hash: "a".repeat(64) }),
      });
      expect(res.status).toBe(403);
      expect(await res.json()).toMatchObject({ code: "forbidden" });
    } finally {
      await bare.onClose?.();
      await runtime.close();
    }
  });
});

describe("a revoke racing updates of the same key", () => {
  it("stays revoked, in PocketBase and in the KeyRecord, whatever order the requests run in", async () => {
    const owner = await h.signUp();
    for (let round = 0; round < 6; round++) {
      const { key, secret } = await create(owner, { name: `race-${round}` });
      const patch = (i: number) =>
        h.call("PATCH", `/v1/keys/${key.id}`, {
          token: owner.access_token,
          body: { name: `n${i}`, rpm: 10 + i },
        });
      const patches = Array.from({ length: 6 }, (_, i) => patch(i));
      await new Promise((resolve) => setTimeout(resolve, round * 4));
      const revoke = h.call("POST", `/v1/keys/${key.id}/revoke`, { token: owner.access_token });
      const [revoked, ...patched] = await Promise.all([revoke, ...patches]);
      expect(revoked.status).toBe(200);
      // Each update ran before the revoke (200) or after it (409: revoked), never across it.
      for (const res of patched) expect([200, 409]).toContain(res.status);
      const view = await h.call("GET", `/v1/keys/${key.id}`, { token: owner.access_token });
      expect(view.body).toMatchObject({ status: "revoked" });
      expect((await stored(secret))?.revoked).toBe(true);
    }
  });
});

describe("a manager demoted to member", () => {
  it("loses the admin and billing scopes of their keys at once, and a member cannot change such a key", async () => {
    const { owner, alice } = await team();
    const promoted = await h.call("PATCH", `/v1/tenant/members/${alice.user.id}`, {
      token: owner.access_token,
      body: { role: "admin" },
    });
    expect(promoted.status).toBe(200);
    const { key, secret } = await create(alice, { name: "ops", scopes: ["chat", "admin", "billing"] });
    expect((await stored(secret))?.scopes).toEqual(expect.arrayContaining(["admin", "billing"]));

    const demoted = await h.call("PATCH", `/v1/tenant/members/${alice.user.id}`, {
      token: owner.access_token,
      body: { role: "member" },
    });
    expect(demoted.status).toBe(200);
    expect((await stored(secret))?.scopes).toEqual(["chat"]);
    const view = await h.call("GET", `/v1/keys/${key.id}`, { token: owner.access_token });
    expect(view.body.scopes).toEqual(["chat"]);

    // A key of a member that carries a manager scope (given by an owner) is the managers' to change.
    const granted = await h.call("PATCH", `/v1/keys/${key.id}`, {
      token: owner.access_token,
      body: { scopes: ["chat", "billing"] },
    });
    expect(granted.status).toBe(200);
    const lifted = await h.call("PATCH", `/v1/keys/${key.id}`, {
      token: alice.access_token,
      body: { budget_micros: null },
    });
    expect(lifted.status).toBe(403);
    expect(lifted.body).toMatchObject({ code: "forbidden" });
  });
});
