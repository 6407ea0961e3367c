import { AppError } from "@cloudfreedom/shared";
import type { AuthDeps, ClientInfo } from "../../deps.ts";
import { recordAudit } from "../audit/record.ts";
import type { Actor } from "../members/roles.ts";
import { revokeUserSessions } from "../tokens/refresh-tokens.ts";
import { membershipsOfUser, tenantView, userView } from "./session.ts";
import { endUserAccessTokens } from "./sessions-ended.ts";
import { verifyPassword } from "./verify-password.ts";

/** The caller, the tenant of this token with the caller's role, and every tenant the caller belongs to. */
export async function me(deps: AuthDeps, actor: Actor) {
  const [user, memberships] = await Promise.all([
    deps.db.operator.collection("users").getOne(actor.userId),
    membershipsOfUser(deps, actor.userId),
  ]);
  const tenants = deps.db.operator.collection("tenants");
  const items = await Promise.all(
    memberships.map(async (m) => ({ ...tenantView(await tenants.getOne(m.tenant)), role: m.role })),
  );
  return {
    user: userView(user),
    tenant: items.find((t) => t.id === actor.tenantId) ?? null,
    role: actor.role,
    tier: actor.tier,
    tenants: items,
  };
}

/** Needs the current password; afterwards every refresh token of the user is revoked (log in again). */
export async function changePassword(
  deps: AuthDeps,
  actor: Actor,
  input: { current_password: string; new_password: string },
  client: ClientInfo,
) {
  const user = await deps.db.operator.collection("users").getOne(actor.userId);
  const verified = await verifyPassword(deps, user.email, input.current_password);
  if (!verified || verified.id !== user.id) {
    await recordAudit(deps, {
      tenantId: actor.tenantId,
      actor: { type: "user", id: user.id },
      action: "auth.password_change",
      outcome: "failure",
      client,
    });
    throw new AppError("invalid_credentials", "The current password is wrong", { field: "current_password" });
  }
  await deps.db.operator
    .collection("users")
    .update(user.id, { password: input.new_password, passwordConfirm: input.new_password });
  await endUserAccessTokens(deps, user.id);
  const memberships = await membershipsOfUser(deps, user.id);
  await revokeUserSessions(
    deps,
    user.id,
    memberships.map((m) => m.tenant),
  );
  await recordAudit(deps, {
    tenantId: actor.tenantId,
    actor: { type: "user", id: user.id },
    action: "auth.password_change",
    target: { type: "user", id: user.id },
    outcome: "success",
    client,
  });
}
