import { publishTenantKeys } from "@cloudfreedom/keyring";
import type { AuthDeps, ClientInfo } from "../../deps.ts";
import { recordAudit } from "../audit/record.ts";
import { issueSession, pickTenant, tenantView } from "../identity/session.ts";
import { type Actor, requireRole } from "../members/roles.ts";
import { assertValidSlug } from "./slug.ts";

export async function currentTenant(deps: AuthDeps, actor: Actor) {
  const tenant = await deps.db.operator.collection("tenants").getOne(actor.tenantId);
  const plan = tenant.plan ? await deps.db.operator.collection("plans").getOne(tenant.plan) : null;
  const members = (await deps.db.forTenant(tenant.id).collection("memberships").list({ perPage: 1 }))
    .totalItems;
  return {
    ...tenantView(tenant),
    plan: plan
      ? { id: plan.id, slug: plan.slug, name: plan.name, tier: plan.tier, max_users: plan.max_users || null }
      : null,
    members,
    role: actor.role,
  };
}

/** Name: owners and admins. Slug (the tenant's subdomain): owners only, DNS label, not reserved, unique. */
export async function updateTenant(
  deps: AuthDeps,
  actor: Actor,
  input: { name?: string | undefined; slug?: string | undefined },
  client: ClientInfo,
) {
  requireRole(actor, input.slug !== undefined ? ["owner"] : ["owner", "admin"]);
  if (input.slug !== undefined) assertValidSlug(input.slug);
  const before = await deps.db.operator.collection("tenants").getOne(actor.tenantId);
  const updated = await deps.db.operator.collection("tenants").update(actor.tenantId, {
    ...(input.name !== undefined ? { name: input.name } : {}),
    ...(input.slug !== undefined ? { slug: input.slug } : {}),
  });
  // KeyRecords carry the slug: rewritten whenever one is sent, so a request retried after the row changed but
  // the publication failed (a 503) still brings the keys to it.
  if (input.slug !== undefined)
    await publishTenantKeys({ db: deps.db, redis: deps.redis, logger: deps.logger, tenantId: updated.id });
  await recordAudit(deps, {
    tenantId: actor.tenantId,
    actor: { type: "user", id: actor.userId },
    action: "tenant.update",
    target: { type: "tenant", id: actor.tenantId },
    outcome: "success",
    client,
    metadata: { name: input.name, slug: input.slug, previous_slug: before.slug },
  });
  return tenantView(updated);
}

/** A session in another tenant the caller belongs to. */
export async function switchTenant(deps: AuthDeps, actor: Actor, tenant: string, client: ClientInfo) {
  const user = await deps.db.operator.collection("users").getOne(actor.userId);
  const picked = await pickTenant(deps, user, tenant);
  return issueSession(deps, { user, tenant: picked.tenant, membership: picked.membership, client });
}
