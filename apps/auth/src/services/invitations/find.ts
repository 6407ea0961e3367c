import { createCollection, type InvitationRow, pbDateToMs, toPbDate } from "@cloudfreedom/db";
import { AppError } from "@cloudfreedom/shared";
import type { AuthDeps } from "../../deps.ts";
import { hashSecret } from "../tokens/secrets.ts";

/**
 * The open invitation behind a token, addressed to this e-mail. Unscoped by design: the token is all the invitee
 * has (`idx_invitations_token_hash` is the exception). Every refusal reads the same, so tokens cannot be probed.
 */
export async function findOpenInvitation(
  deps: AuthDeps,
  token: string,
  email: string,
): Promise<InvitationRow> {
  const refused = new AppError("not_found", "This invitation is invalid, expired or was already used", {
    field: "invitation_token",
  });
  if (!/^cfi_[0-9A-Za-z]{32}$/.test(token)) throw refused;
  const row = await createCollection(deps.db.client, "invitations").getFirst({
    filter: "token_hash = {:hash}",
    params: { hash: hashSecret(token) },
  });
  if (!row) throw refused;
  if (row.accepted_at !== "" || row.revoked_at !== "") throw refused;
  if ((pbDateToMs(row.expires_at) ?? 0) <= Date.now()) throw refused;
  if (row.email !== email.trim().toLowerCase()) {
    throw new AppError("forbidden", "This invitation was sent to another e-mail address", {
      field: "invitation_token",
    });
  }
  return row;
}

export function invitationView(row: InvitationRow) {
  const state = row.accepted_at
    ? "accepted"
    : row.revoked_at
      ? "revoked"
      : (pbDateToMs(row.expires_at) ?? 0) <= Date.now()
        ? "expired"
        : "pending";
  return {
    id: row.id,
    email: row.email,
    role: row.role,
    state,
    invited_by: row.invited_by || null,
    expires_at: row.expires_at,
    accepted_at: row.accepted_at || null,
    created: row.created,
  };
}

/**
 * Revokes the tenant's pending invitations to `email` but `keep` (one address holds one seat at most): when a
 * newer invitation replaces them, and once the address joined through one of them. Returns their ids.
 */
export async function closePendingInvitations(
  deps: AuthDeps,
  tenantId: string,
  email: string,
  keep = "",
): Promise<string[]> {
  const rows = deps.db.forTenant(tenantId).collection("invitations");
  const pending = await rows.listAll({
    filter: "email = {:email} && accepted_at = '' && revoked_at = '' && id != {:keep}",
    params: { email: email.trim().toLowerCase(), keep },
  });
  const now = toPbDate(Date.now());
  await Promise.all(pending.map((row) => rows.update(row.id, { revoked_at: now })));
  return pending.map((row) => row.id);
}

/**
 * After a join: the address's other pending invitations are closed, or left to expire (logged) when that
 * fails; the join itself stands either way.
 */
export async function closeInvitationsAfterJoin(
  deps: AuthDeps,
  tenantId: string,
  email: string,
): Promise<void> {
  try {
    await closePendingInvitations(deps, tenantId, email);
  } catch (error) {
    deps.logger.warn(
      { err: error, tenant_id: tenantId },
      "could not revoke the joined address's other pending invitations; they expire on their own",
    );
  }
}
