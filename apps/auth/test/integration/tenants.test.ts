import { hashApiKey, redisKeys } from "@cloudfreedom/shared";
import { uniqueSuffix } from "@cloudfreedom/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type AuthHarness, PASSWORD, type Session, startAuth } from "./harness.ts";

// The harness's free plan allows 3 users.
let h: AuthHarness;
beforeAll(async () => {
  h = await startAuth();
});
afterAll(async () => {
  await h?.stop();
});

const email = () => `invitee-${uniqueSuffix()}@cloudfreedom.test`;

async function invite(owner: Session, role = "member", address = email()) {
  const res = await h.call("POST", "/v1/tenant/invitations", {
    token: owner.access_token,
    body: { email: address, role },
  });
  return { ...res, address };
}

/** An owner with a second member of the given role, who joined through an invitation at sign-up. */
async function teamOf(role: "admin" | "member") {
  const owner = await h.signUp();
  const invitation = await invite(owner, role);
  expect(invitation.status, JSON.stringify(invitation.body)).toBe(201);
  const joined = await h.signUp({ email: invitation.address, invitation_token: invitation.body.token });
  return { owner, joined };
}

describe("invitations", () => {
  it("stores only the token's hash and lets the invitee join at sign-up, in the invited role", async () => {
    const owner = await h.signUp();
    const { body, address } = await invite(owner, "admin");
    expect(body).toMatchObject({
      token: expect.stringMatching(/^cfi_/),
      accept_url: expect.stringContaining("token=cfi_"),
      invitation: { state: "pending", role: "admin" },
    });
    const rows = await h.db.forTenant(owner.tenant.id).collection("invitations").listAll({});
    expect(rows[0]?.token_hash).toMatch(/^[0-9a-f]{64}$/);
    expect(JSON.stringify(rows)).not.toContain(String(body.token));

    const joined = await h.signUp({ email: address, invitation_token: body.token });
    expect(joined).toMatchObject({ role: "admin", tenant: { id: owner.tenant.id } });
    // The invitee got no personal tenant.
    expect((await h.call("GET", "/v1/me", { token: joined.access_token })).body.tenants).toHaveLength(1);
    // A used token cannot be used again.
    const again = await h.call("POST", "/v1/auth/signup", {
      body: { email: address.replace("@", "+2@"), password: PASSWORD, invitation_token: body.token },
    });
    expect(again.status).toBe(404);
  });

  it("lets an existing user accept an invitation sent to their e-mail only", async () => {
    const owner = await h.signUp();
    const other = await h.signUp();
    const stranger = await h.signUp();
    const { body } = await invite(owner, "member", other.user.email);
    const wrongUser = await h.call("POST", "/v1/invitations/accept", {
      token: stranger.access_token,
      body: { token: body.token },
    });
    expect(wrongUser.status).toBe(403);
    const accepted = await h.call("POST", "/v1/invitations/accept", {
      token: other.access_token,
      body: { token: body.token },
    });
    expect(accepted.status).toBe(200);
    expect(accepted.body).toMatchObject({ role: "member", tenant: { id: owner.tenant.id } });
  });

  it("refuses invitations beyond the plan's max_users (members plus pending invitations)", async () => {
    const owner = await h.signUp();
    expect((await invite(owner)).status).toBe(201);
    expect((await invite(owner)).status).toBe(201);
    const third = await invite(owner);
    expect(third.status).toBe(403);
    expect(third.body).toMatchObject({
      code: "forbidden",
      details: { reason: "max_users", max_users: 3, members: 1, pending_invitations: 2 },
    });
  });

  it("holds one seat per address: a new invitation replaces the pending one, and joining closes the rest", async () => {
    const owner = await h.signUp();
    const address = email();
    const first = await invite(owner, "member", address);
    const second = await invite(owner, "admin", address);
    expect(second.status).toBe(201);
    const states = async () =>
      Object.fromEntries(
        (
          (await h.call("GET", "/v1/tenant/invitations", { token: owner.access_token })).body.items as Array<{
            id: string;
            state: string;
          }>
        ).map((item) => [item.id, item.state]),
      );
    const ids = [first, second].map((res) => (res.body.invitation as { id: string }).id);
    expect(await states()).toEqual({ [ids[0] as string]: "revoked", [ids[1] as string]: "pending" });
    // The replaced link is dead; the new one joins in its role.
    const stale = await h.call("POST", "/v1/auth/signup", {
      body: { email: address, password: PASSWORD, invitation_token: first.body.token },
    });
    expect(stale.status).toBe(404);
    // Two pending invitations to one address (one made before this rule) do not outlive the join through one.
    const other = await h.signUp();
    const link = await invite(owner, "member", other.user.email);
    await h.db
      .forTenant(owner.tenant.id)
      .collection("invitations")
      .create({
        email: other.user.email,
        role: "admin",
        token_hash: "1".repeat(64),
        invited_by: owner.user.id,
        expires_at: new Date(Date.now() + 86_400_000).toISOString(),
      });
    const accepted = await h.call("POST", "/v1/invitations/accept", {
      token: other.access_token,
      body: { token: link.body.token },
    });
    expect(accepted.status).toBe(200);
    const left = Object.values(await states()).filter((state) => state === "pending");
    // Only the invitation of the address that has not joined yet holds a seat.
    expect(left).toEqual(["pending"]);
    expect((await invite(owner)).status).toBe(403);
  });

  it("lets an address be invited again on a full plan: the replaced invitation's seat is its own", async () => {
    const owner = await h.signUp();
    const address = email();
    expect((await invite(owner, "member", address)).status).toBe(201);
    expect((await invite(owner)).status).toBe(201);
    // Owner + two pending invitations: the plan's 3 seats are taken; a third address is refused…
    expect((await invite(owner)).status).toBe(403);
    // …but the same address again only replaces its link.
    const again = await invite(owner, "admin", address);
    expect(again.status).toBe(201);
    expect(again.body).toMatchObject({ invitation: { state: "pending", role: "admin" } });
  });

  it("lets members neither invite nor list invitations", async () => {
    const { joined } = await teamOf("member");
    expect((await invite(joined)).status).toBe(403);
    expect((await h.call("GET", "/v1/tenant/invitations", { token: joined.access_token })).status).toBe(403);
  });

  it("revokes a pending invitation", async () => {
    const owner = await h.signUp();
    const { body, address } = await invite(owner);
    const id = (body.invitation as { id: string }).id;
    expect(
      (await h.call("DELETE", `/v1/tenant/invitations/${id}`, { token: owner.access_token })).body,
    ).toMatchObject({ state: "revoked" });
    expect(
      (
        await h.call("POST", "/v1/auth/signup", {
          body: { email: address, password: PASSWORD, invitation_token: body.token },
        })
      ).status,
    ).toBe(404);
  });
});

describe("members and roles", () => {
  it("lets the owner promote a member, audited with from/to", async () => {
    const { owner, joined } = await teamOf("member");
    const res = await h.call("PATCH", `/v1/tenant/members/${joined.user.id}`, {
      token: owner.access_token,
      body: { role: "admin" },
    });
    expect(res).toMatchObject({ status: 200, body: { role: "admin" } });
    const audit = await h.db
      .forTenant(owner.tenant.id)
      .collection("audit_logs")
      .listAll({ filter: "action = 'member.role_change'" });
    expect(audit).toEqual([
      expect.objectContaining({
        actor_id: owner.user.id,
        target_id: joined.user.id,
        metadata: { from: "member", to: "admin" },
      }),
    ]);
  });

  it("keeps admins from touching owners, and members from changing roles", async () => {
    const { owner, joined: admin } = await teamOf("admin");
    expect(
      (
        await h.call("PATCH", `/v1/tenant/members/${owner.user.id}`, {
          token: admin.access_token,
          body: { role: "member" },
        })
      ).status,
    ).toBe(403);
    expect(
      (
        await h.call("PATCH", `/v1/tenant/members/${admin.user.id}`, {
          token: admin.access_token,
          body: { role: "owner" },
        })
      ).status,
    ).toBe(403);
    const { joined: member } = await teamOf("member");
    expect(
      (
        await h.call("PATCH", `/v1/tenant/members/${member.user.id}`, {
          token: member.access_token,
          body: { role: "admin" },
        })
      ).status,
    ).toBe(403);
  });

  it("never lets the last owner leave or be demoted", async () => {
    const owner = await h.signUp();
    const leave = await h.call("DELETE", `/v1/tenant/members/${owner.user.id}`, {
      token: owner.access_token,
    });
    expect(leave).toMatchObject({
      status: 409,
      body: { code: "conflict", details: { reason: "last_owner" } },
    });
    const demote = await h.call("PATCH", `/v1/tenant/members/${owner.user.id}`, {
      token: owner.access_token,
      body: { role: "admin" },
    });
    expect(demote.status).toBe(409);
    expect((await h.db.forTenant(owner.tenant.id).collection("memberships").listAll({}))[0]?.role).toBe(
      "owner",
    );
  });

  it("removes a member: their tokens and keys stop working at once", async () => {
    const { owner, joined } = await teamOf("member");
    const key = await h.call("POST", "/v1/keys", { token: joined.access_token, body: { name: "mine" } });
    expect(key.status).toBe(201);
    expect(
      (await h.call("DELETE", `/v1/tenant/members/${joined.user.id}`, { token: owner.access_token })).status,
    ).toBe(204);
    expect((await h.call("GET", "/v1/keys", { token: joined.access_token })).status).toBe(401);
    const row = await h.db
      .forTenant(owner.tenant.id)
      .collection("api_keys")
      .getOne((key.body.key as { id: string }).id);
    expect(row.revoked_at).not.toBe("");
    expect(
      (await h.call("POST", "/v1/auth/refresh", { body: { refresh_token: joined.refresh_token } })).status,
    ).toBe(401);
  });

  it("lets a member leave", async () => {
    const { owner, joined } = await teamOf("member");
    expect(
      (await h.call("DELETE", `/v1/tenant/members/${joined.user.id}`, { token: joined.access_token })).status,
    ).toBe(204);
    const members = (await h.call("GET", "/v1/tenant/members", { token: owner.access_token })).body
      .items as Array<{ user_id: string }>;
    expect(members.map((m) => m.user_id)).toEqual([owner.user.id]);
  });
});

describe("tenant settings and audit log", () => {
  it("changes the slug (owner only), refusing reserved and taken names", async () => {
    const { owner, joined: admin } = await teamOf("admin");
    const slug = `acme-${uniqueSuffix(6)}`;
    expect((await h.call("PATCH", "/v1/tenant", { token: admin.access_token, body: { slug } })).status).toBe(
      403,
    );
    expect(
      (await h.call("PATCH", "/v1/tenant", { token: owner.access_token, body: { slug: "billing" } })).status,
    ).toBe(400);
    expect(
      (await h.call("PATCH", "/v1/tenant", { token: owner.access_token, body: { slug } })).body,
    ).toMatchObject({ slug });
    const other = await h.signUp();
    expect((await h.call("PATCH", "/v1/tenant", { token: other.access_token, body: { slug } })).status).toBe(
      409,
    );
    expect(
      (await h.call("PATCH", "/v1/tenant", { token: admin.access_token, body: { name: "Acme" } })).body,
    ).toMatchObject({ name: "Acme" });
  });

  it("a slug sent again brings the keys to it, after a change whose publication failed", async () => {
    const owner = await h.signUp();
    const key = await h.call("POST", "/v1/keys", { token: owner.access_token, body: { name: "k" } });
    const slug = `acme-${uniqueSuffix(6)}`;
    expect((await h.call("PATCH", "/v1/tenant", { token: owner.access_token, body: { slug } })).status).toBe(
      200,
    );
    // As if the publication had failed after the row changed: the record still carries the old slug.
    const recordKey = redisKeys.keyRecord(await hashApiKey(String(key.body.secret)));
    const record = JSON.parse((await h.redisDb.redis.get(recordKey)) ?? "{}");
    expect(record.tenant_slug).toBe(slug);
    await h.redisDb.redis.set(recordKey, JSON.stringify({ ...record, tenant_slug: owner.tenant.slug }));
    expect((await h.call("PATCH", "/v1/tenant", { token: owner.access_token, body: { slug } })).status).toBe(
      200,
    );
    expect(JSON.parse((await h.redisDb.redis.get(recordKey)) ?? "{}").tenant_slug).toBe(slug);
  });

  it("pages through the tenant's audit log for owners and admins, newest first, never another tenant's", async () => {
    const { owner, joined: member } = await teamOf("member");
    await h.call("POST", "/v1/keys", { token: owner.access_token, body: { name: "k" } });
    const page = await h.call("GET", "/v1/tenant/audit-logs?per_page=2", { token: owner.access_token });
    expect(page.status).toBe(200);
    expect(page.body).toMatchObject({ page: 1, per_page: 2, total: expect.any(Number) });
    const items = page.body.items as Array<{ action: string; actor: { id: string } }>;
    expect(items[0]).toMatchObject({ action: "key.create", actor: { id: owner.user.id } });
    const all = (await h.call("GET", "/v1/tenant/audit-logs?per_page=200", { token: owner.access_token }))
      .body.items as Array<{ action: string }>;
    expect(all.map((i) => i.action)).toEqual(
      expect.arrayContaining(["auth.signup", "invitation.create", "invitation.accept", "key.create"]),
    );
    const filtered = await h.call("GET", "/v1/tenant/audit-logs?action=key.create", {
      token: owner.access_token,
    });
    expect(filtered.body.total).toBe(1);
    expect((await h.call("GET", "/v1/tenant/audit-logs", { token: member.access_token })).status).toBe(403);
    const stranger = await h.signUp();
    const theirs = (await h.call("GET", "/v1/tenant/audit-logs", { token: stranger.access_token })).body
      .items as Array<{ action: string }>;
    expect(theirs.map((i) => i.action)).toEqual(["auth.signup"]);
  });
});
