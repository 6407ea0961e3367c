import type { MembershipRow } from "@cloudfreedom/db";
import { AppError } from "@cloudfreedom/shared";
import type { AuthDeps, ClientInfo } from "../../deps.ts";
import { recordAudit } from "../audit/record.ts";
import { revokeUserKeys, stripManagerScopes } from "../keys/manage.ts";
import { revokeUserSessions } from "../tokens/refresh-tokens.ts";
import { type Actor, isManager, type Role, requireRole } from "./roles.ts";

export async function listMembers(deps: AuthDeps, actor: Actor) {
  const memberships = await deps.db
    .forTenant(actor.tenantId)
    .collection("memberships")
    .listAll({ sort: "created" });
  const users = deps.db.operator.collection("users");
  const items = await Promise.all(
    memberships.map(async (m) => {
      const user = await users.getOne(m.user);
      return { user_id: m.user, email: user.email, name: user.name, role: m.role, joined: m.created };
    }),
  );
  return { items };
}

async function membershipOfUser(deps: AuthDeps, tenantId: string, userId: string): Promise<MembershipRow> {
  const row = await deps.db
    .forTenant(tenantId)
    .collection("memberships")
    .getFirst({ filter: "user = {:user}", params: { user: userId } });
  if (!row) throw new AppError("not_found", "No such member in this tenant", { user_id: userId });
  return row;
}

async function assertNotLastOwner(deps: AuthDeps, tenantId: string, target: MembershipRow): Promise<void> {
  if (target.role !== "owner") return;
  const owners = await deps.db
    .forTenant(tenantId)
    .collection("memberships")
    .listAll({ filter: "role = 'owner'" });
  if (owners.length <= 1) {
    throw new AppError("conflict", "A tenant needs at least one owner; make someone else owner first", {
      reason: "last_owner",
    });
  }
}

/** Owners change any role; admins change members and admins, never owners and never to owner. */
export async function changeRole(
  deps: AuthDeps,
  actor: Actor,
  userId: string,
  role: Role,
  client: ClientInfo,
) {
  requireRole(actor, ["owner", "admin"]);
  const target = await membershipOfUser(deps, actor.tenantId, userId);
  if (actor.role !== "owner" && (target.role === "owner" || role === "owner")) {
    throw new AppError("forbidden", "Only owners grant or take the owner role");
  }
  if (role !== "owner") await assertNotLastOwner(deps, actor.tenantId, target);
  const updated = await deps.db
    .forTenant(actor.tenantId)
    .collection("memberships")
    .update(target.id, { role });
  // A member's keys carry no manager scope: a demoted manager's keys lose theirs now.
  const keysChanged = role === "member" ? await stripManagerScopes(deps, actor.tenantId, userId) : 0;
  await recordAudit(deps, {
    tenantId: actor.tenantId,
    actor: { type: "user", id: actor.userId },
    action: "member.role_change",
    target: { type: "user", id: userId },
    outcome: "success",
    client,
    metadata: {
      from: target.role,
      to: role,
      ...(keysChanged > 0 ? { keys_scopes_removed: keysChanged } : {}),
    },
  });
  return { user_id: userId, role: updated.role };
}

/** Removes a member (or the caller leaves: `userId === actor.userId`). The last owner cannot go. */
export async function removeMember(deps: AuthDeps, actor: Actor, userId: string, client: ClientInfo) {
  const leaving = userId === actor.userId;
  if (!leaving) requireRole(actor, ["owner", "admin"]);
  const target = await membershipOfUser(deps, actor.tenantId, userId);
  if (!leaving && target.role === "owner" && actor.role !== "owner") {
    throw new AppError("forbidden", "Only owners remove owners");
  }
  await assertNotLastOwner(deps, actor.tenantId, target);
  // Keys first: should revoking one fail (its lock held too long), the member is still there to remove again.
  // Then once more after the membership is gone, for a key the member made while the first pass ran.
  let keysRevoked = await revokeUserKeys(deps, actor.tenantId, userId);
  await deps.db.forTenant(actor.tenantId).collection("memberships").delete(target.id);
  await revokeUserSessions(deps, userId, [actor.tenantId]);
  keysRevoked += await revokeUserKeys(deps, actor.tenantId, userId);
  await recordAudit(deps, {
    tenantId: actor.tenantId,
    actor: { type: "user", id: actor.userId },
    action: leaving ? "member.leave" : "member.remove",
    target: { type: "user", id: userId },
    outcome: "success",
    client,
    metadata: { role: target.role, by_manager: !leaving && isManager(actor), keys_revoked: keysRevoked },
  });
}
