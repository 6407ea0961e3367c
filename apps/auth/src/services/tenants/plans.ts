import type { PlanRow } from "@cloudfreedom/db";
import { AppError } from "@cloudfreedom/shared";
import type { AuthDeps } from "../../deps.ts";
import { pbFilterDate } from "../tokens/signing-keys.ts";

/** The plan personal tenants start on (DEFAULT_PLAN_SLUG), or null when the operator has not seeded it. */
export async function defaultPlan(deps: AuthDeps): Promise<PlanRow | null> {
  const plan = await deps.db.operator
    .collection("plans")
    .getFirst({ filter: "slug = {:slug}", params: { slug: deps.env.DEFAULT_PLAN_SLUG } });
  if (!plan)
    deps.logger.warn(
      { plan: deps.env.DEFAULT_PLAN_SLUG },
      "default plan not found; new tenants get no plan (tier free)",
    );
  return plan;
}

/** Refuses one more member when the tenant's plan caps `max_users` (0 = unlimited). Pending invitations count. */
export async function assertSeatAvailable(
  deps: AuthDeps,
  tenantId: string,
  options: {
    countPendingInvitations: boolean;
    /** Pending invitations to this address are about to be replaced: they do not count. */
    replacing?: string;
  },
): Promise<void> {
  const tenant = await deps.db.operator.collection("tenants").getOne(tenantId);
  if (!tenant.plan) return;
  const plan = await deps.db.operator.collection("plans").getOne(tenant.plan);
  if (plan.max_users === 0) return;
  const scope = deps.db.forTenant(tenantId);
  const members = (await scope.collection("memberships").list({ perPage: 1 })).totalItems;
  const pending = options.countPendingInvitations
    ? (
        await scope.collection("invitations").list({
          perPage: 1,
          filter: "accepted_at = '' && revoked_at = '' && expires_at > {:now} && email != {:replacing}",
          params: { now: pbFilterDate(Date.now()), replacing: options.replacing ?? "" },
        })
      ).totalItems
    : 0;
  if (members + pending >= plan.max_users) {
    throw new AppError(
      "forbidden",
      `The ${plan.name} plan allows ${plan.max_users} user(s); upgrade the plan to add more`,
      {
        reason: "max_users",
        max_users: plan.max_users,
        members,
        pending_invitations: pending,
      },
    );
  }
}
