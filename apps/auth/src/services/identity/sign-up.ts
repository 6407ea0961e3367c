import { type TenantRow, toAppError, type UserRow } from "@cloudfreedom/db";
import { AppError } from "@cloudfreedom/shared";
import type { AuthDeps, ClientInfo } from "../../deps.ts";
import { recordAudit } from "../audit/record.ts";
import { closeInvitationsAfterJoin, findOpenInvitation } from "../invitations/find.ts";
import { addressSubject, hitLimit } from "../security/rate-limit.ts";
import { assertSeatAvailable, defaultPlan } from "../tenants/plans.ts";
import { assertValidSlug, newRecordId, slugFromEmail } from "../tenants/slug.ts";
import { issueSession } from "./session.ts";

export interface SignUpInput {
  email: string;
  password: string;
  name?: string | undefined;
  tenant_name?: string | undefined;
  tenant_slug?: string | undefined;
  invitation_token?: string | undefined;
}

function explainConflict(error: unknown): unknown {
  const mapped = toAppError(error);
  if (mapped.code !== "conflict") return mapped;
  if (mapped.details.field === "email")
    return new AppError("conflict", "An account with this e-mail already exists; log in instead", {
      field: "email",
    });
  if (mapped.details.field === "slug")
    return new AppError("conflict", "This tenant slug is taken; choose another", { field: "tenant_slug" });
  return mapped;
}

/**
 * A new user. Without an invitation: a personal tenant on the default (free) plan, the user its owner. With one:
 * the user joins the inviting tenant in the invited role. Rows are written in one PocketBase batch (one
 * transaction), so a failure leaves nothing behind.
 */
export async function signUp(deps: AuthDeps, input: SignUpInput, client: ClientInfo) {
  await hitLimit(deps.redis, {
    name: "signup:ip",
    subject: addressSubject(client.ip),
    max: deps.env.SIGNUP_MAX_PER_IP,
    windowMs: 3_600_000,
    what: "sign-ups from this address",
    setting: "SIGNUP_MAX_PER_IP",
  });
  const email = input.email.trim().toLowerCase();
  const invitation = input.invitation_token
    ? await findOpenInvitation(deps, input.invitation_token, email)
    : null;
  if (invitation) await assertSeatAvailable(deps, invitation.tenant, { countPendingInvitations: false });
  if (input.tenant_slug) assertValidSlug(input.tenant_slug, "tenant_slug");

  const ids = {
    tenant: invitation?.tenant ?? newRecordId("tnt"),
    user: newRecordId("usr"),
    membership: newRecordId("mem"),
  };
  const plan = invitation ? null : await defaultPlan(deps);
  const role = invitation?.role ?? "owner";
  try {
    await deps.db.client.callRaw((pb) => {
      const batch = pb.createBatch();
      if (!invitation) {
        batch.collection("tenants").create({
          id: ids.tenant,
          slug: input.tenant_slug ?? slugFromEmail(email),
          name: input.tenant_name ?? `${input.name || email.split("@")[0]}'s workspace`,
          plan: plan?.id ?? "",
          tier: plan?.tier ?? "free",
          currency: plan?.currency ?? "EUR",
          status: "active",
        });
      }
      batch.collection("users").create({
        id: ids.user,
        email,
        password: input.password,
        passwordConfirm: input.password,
        name: input.name ?? "",
        default_tenant: ids.tenant,
        verified: false,
      });
      batch.collection("memberships").create({
        id: ids.membership,
        tenant: ids.tenant,
        user: ids.user,
        role,
        invited_by: invitation?.invited_by ?? "",
      });
      if (invitation) {
        batch
          .collection("invitations")
          .update(invitation.id, { accepted_at: new Date().toISOString(), accepted_by: ids.user });
      }
      return batch.send();
    });
  } catch (error) {
    throw explainConflict(error);
  }
  if (invitation) await closeInvitationsAfterJoin(deps, invitation.tenant, email);

  const [user, tenant, membership]: [UserRow, TenantRow, Awaited<ReturnType<typeof loadMembership>>] =
    await Promise.all([
      deps.db.operator.collection("users").getOne(ids.user),
      deps.db.operator.collection("tenants").getOne(ids.tenant),
      loadMembership(deps, ids.tenant, ids.membership),
    ]);
  await recordAudit(deps, {
    tenantId: tenant.id,
    actor: { type: "user", id: user.id, label: email },
    action: invitation ? "invitation.accept" : "auth.signup",
    target: invitation ? { type: "invitation", id: invitation.id } : { type: "tenant", id: tenant.id },
    outcome: "success",
    client,
    metadata: { role },
  });
  return issueSession(deps, { user, tenant, membership, client });
}

function loadMembership(deps: AuthDeps, tenantId: string, id: string) {
  return deps.db.forTenant(tenantId).collection("memberships").getOne(id);
}
