import { toPbDate } from "@cloudfreedom/db";
import { AppError } from "@cloudfreedom/shared";
import type { AuthDeps, ClientInfo } from "../../deps.ts";
import { recordAudit } from "../audit/record.ts";
import { issueSession, membershipOf } from "../identity/session.ts";
import { assertSeatAvailable } from "../tenants/plans.ts";
import { closeInvitationsAfterJoin, findOpenInvitation } from "./find.ts";

/** A logged-in user accepts an invitation sent to their e-mail; the answer is a session in the new tenant. */
export async function acceptInvitation(deps: AuthDeps, userId: string, token: string, client: ClientInfo) {
  const user = await deps.db.operator.collection("users").getOne(userId);
  const invitation = await findOpenInvitation(deps, token, user.email);
  if (await membershipOf(deps, invitation.tenant, user.id)) {
    throw new AppError("conflict", "You are already a member of this tenant");
  }
  await assertSeatAvailable(deps, invitation.tenant, { countPendingInvitations: false });
  const scope = deps.db.forTenant(invitation.tenant);
  const membership = await scope
    .collection("memberships")
    .create({ user: user.id, role: invitation.role, invited_by: invitation.invited_by });
  await scope
    .collection("invitations")
    .update(invitation.id, { accepted_at: toPbDate(Date.now()), accepted_by: user.id });
  await closeInvitationsAfterJoin(deps, invitation.tenant, invitation.email);
  await recordAudit(deps, {
    tenantId: invitation.tenant,
    actor: { type: "user", id: user.id, label: user.email },
    action: "invitation.accept",
    target: { type: "invitation", id: invitation.id },
    outcome: "success",
    client,
    metadata: { role: invitation.role },
  });
  const tenant = await deps.db.operator.collection("tenants").getOne(invitation.tenant);
  return issueSession(deps, { user, tenant, membership, client });
}
