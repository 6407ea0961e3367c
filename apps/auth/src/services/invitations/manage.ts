import { toPbDate } from "@cloudfreedom/db";
import { AppError } from "@cloudfreedom/shared";
import type { AuthDeps, ClientInfo } from "../../deps.ts";
import { recordAudit } from "../audit/record.ts";
import { membershipOf } from "../identity/session.ts";
import { type Actor, type Role, requireRole } from "../members/roles.ts";
import { assertSeatAvailable } from "../tenants/plans.ts";
import { hashSecret, newSecret } from "../tokens/secrets.ts";
import { closePendingInvitations, invitationView } from "./find.ts";

/**
 * Invites an e-mail address. The token is returned once (with the link to send); only its hash is stored.
 * Admins invite members and admins; only owners invite owners.
 */
export async function createInvitation(
  deps: AuthDeps,
  actor: Actor,
  input: { email: string; role: Role },
  client: ClientInfo,
) {
  requireRole(actor, input.role === "owner" ? ["owner"] : ["owner", "admin"]);
  const email = input.email.trim().toLowerCase();
  const scope = deps.db.forTenant(actor.tenantId);
  const existingUser = await deps.db.operator
    .collection("users")
    .getFirst({ filter: "email = {:email}", params: { email } });
  if (existingUser && (await membershipOf(deps, actor.tenantId, existingUser.id))) {
    throw new AppError("conflict", `${email} is already a member of this tenant`, { field: "email" });
  }
  // A new invitation to the same address replaces its pending ones (a lost link, another role): one seat.
  // They are revoked once the new one exists, so a refusal or a failure leaves the old link working.
  await assertSeatAvailable(deps, actor.tenantId, { countPendingInvitations: true, replacing: email });
  const token = newSecret("cfi");
  const row = await scope.collection("invitations").create({
    email,
    role: input.role,
    token_hash: hashSecret(token),
    invited_by: actor.userId,
    expires_at: toPbDate(Date.now() + deps.env.INVITATION_TTL_HOURS * 3600 * 1000),
  });
  const replaced = await closePendingInvitations(deps, actor.tenantId, email, row.id);
  await recordAudit(deps, {
    tenantId: actor.tenantId,
    actor: { type: "user", id: actor.userId },
    action: "invitation.create",
    target: { type: "invitation", id: row.id },
    outcome: "success",
    client,
    metadata: { email, role: input.role, ...(replaced.length > 0 ? { replaced } : {}) },
  });
  const base = deps.env.INVITATION_URL ?? `https://admin.${deps.env.PLATFORM_DOMAIN}/invitations/accept`;
  return { invitation: invitationView(row), token, accept_url: `${base}?token=${encodeURIComponent(token)}` };
}

export async function listInvitations(deps: AuthDeps, actor: Actor) {
  requireRole(actor, ["owner", "admin"]);
  const rows = await deps.db
    .forTenant(actor.tenantId)
    .collection("invitations")
    .listAll({ sort: "-created" });
  return { items: rows.map(invitationView) };
}

export async function revokeInvitation(deps: AuthDeps, actor: Actor, id: string, client: ClientInfo) {
  requireRole(actor, ["owner", "admin"]);
  const rows = deps.db.forTenant(actor.tenantId).collection("invitations");
  const row = await rows.getOne(id);
  if (row.accepted_at)
    throw new AppError("conflict", "This invitation was already accepted; remove the member instead");
  const updated = row.revoked_at ? row : await rows.update(id, { revoked_at: toPbDate(Date.now()) });
  await recordAudit(deps, {
    tenantId: actor.tenantId,
    actor: { type: "user", id: actor.userId },
    action: "invitation.revoke",
    target: { type: "invitation", id },
    outcome: "success",
    client,
  });
  return invitationView(updated);
}
