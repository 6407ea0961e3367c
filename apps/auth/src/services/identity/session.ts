import { createCollection, type MembershipRow, type TenantRow, type UserRow } from "@cloudfreedom/db";
import { membershipOf as membershipIn, resolveTier } from "@cloudfreedom/keyring";
import { AppError } from "@cloudfreedom/shared";
import type { AuthDeps, ClientInfo } from "../../deps.ts";
import { signAccessToken } from "../tokens/access-token.ts";
import { issueRefreshToken } from "../tokens/refresh-tokens.ts";

export function userView(user: UserRow) {
  return { id: user.id, email: user.email, name: user.name, verified: user.verified, created: user.created };
}

export function tenantView(tenant: TenantRow) {
  return {
    id: tenant.id,
    slug: tenant.slug,
    name: tenant.name,
    tier: tenant.tier,
    status: tenant.status,
    plan: tenant.plan || null,
  };
}

/** The user's membership in a tenant, or null. */
export function membershipOf(
  deps: AuthDeps,
  tenantId: string,
  userId: string,
): Promise<MembershipRow | null> {
  return membershipIn(deps.db, tenantId, userId);
}

/** Memberships of a user across tenants (tenant-resolving exception: `idx_memberships_user`). */
export async function membershipsOfUser(deps: AuthDeps, userId: string): Promise<MembershipRow[]> {
  return createCollection(deps.db.client, "memberships").listAll({
    filter: "user = {:user}",
    params: { user: userId },
    sort: "created",
  });
}

/**
 * The tenant a login lands in: the one asked for (id or slug) if the user is a member, else the user's default
 * tenant, else the oldest membership.
 */
export async function pickTenant(
  deps: AuthDeps,
  user: UserRow,
  wanted?: string,
): Promise<{ tenant: TenantRow; membership: MembershipRow }> {
  const memberships = await membershipsOfUser(deps, user.id);
  if (memberships.length === 0)
    throw new AppError("forbidden", "This account belongs to no tenant; ask an admin for an invitation");
  const tenants = deps.db.operator.collection("tenants");
  if (wanted) {
    const tenant = await tenants.getFirst({ filter: "id = {:t} || slug = {:t}", params: { t: wanted } });
    const membership = tenant ? memberships.find((m) => m.tenant === tenant.id) : undefined;
    if (!tenant || !membership)
      throw new AppError("forbidden", `You are not a member of tenant "${wanted}"`, { tenant: wanted });
    return { tenant, membership };
  }
  const membership = memberships.find((m) => m.tenant === user.default_tenant) ?? memberships[0];
  if (!membership) throw new AppError("forbidden", "This account belongs to no tenant");
  return { tenant: await tenants.getOne(membership.tenant), membership };
}

/** Access + refresh token for a user in a tenant; tier from the tenant's subscription/plan at this moment. */
export async function issueSession(
  deps: AuthDeps,
  input: { user: UserRow; tenant: TenantRow; membership: MembershipRow; client: ClientInfo; family?: string },
) {
  // OAuth2 linked the account and its reclaim has not finished: nothing it was issued before mints a session
  // (refresh, switching tenant, accepting an invitation); the reclaiming log-in passes the cleared row.
  if (input.user.reclaim_pending) throw new AppError("unauthorized", "This session has ended; log in again");
  if (input.tenant.status !== "active") {
    throw new AppError("forbidden", `Tenant "${input.tenant.slug}" is ${input.tenant.status}`, {
      tenant: input.tenant.id,
    });
  }
  const { tier } = await resolveTier({
    db: deps.db,
    tenantId: input.tenant.id,
    tenant: input.tenant,
    logger: deps.logger,
  });
  const access = await signAccessToken(deps, {
    sub: input.user.id,
    tenant: input.tenant.id,
    role: input.membership.role,
    tier,
  });
  const refresh = await issueRefreshToken(deps, {
    tenantId: input.tenant.id,
    userId: input.user.id,
    client: input.client,
    ...(input.family ? { family: input.family } : {}),
  });
  return {
    access_token: access.token,
    token_type: "Bearer" as const,
    expires_in: access.expiresIn,
    refresh_token: refresh.token,
    refresh_expires_in: refresh.expiresIn,
    user: userView(input.user),
    tenant: { ...tenantView(input.tenant), tier },
    role: input.membership.role,
  };
}
export type Session = Awaited<ReturnType<typeof issueSession>>;
