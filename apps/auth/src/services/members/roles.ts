import { AppError, type Tier } from "@cloudfreedom/shared";

export const ROLES = ["owner", "admin", "member"] as const;
export type Role = (typeof ROLES)[number];

/** The authenticated caller of an auth route: the token's user in the token's tenant, role read fresh. */
export interface Actor {
  userId: string;
  tenantId: string;
  role: Role;
  tier: Tier;
  membershipId: string;
}

export function isManager(actor: Actor): boolean {
  return actor.role === "owner" || actor.role === "admin";
}

export function requireRole(actor: Actor, roles: readonly Role[]): void {
  if (!roles.includes(actor.role)) {
    throw new AppError(
      "forbidden",
      `This needs the ${roles.join(" or ")} role in this tenant; you are ${actor.role}`,
      {
        required_roles: roles,
        role: actor.role,
      },
    );
  }
}
