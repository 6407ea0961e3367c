import type { AuditLogRow } from "@cloudfreedom/db";
import type { AuthDeps } from "../../deps.ts";
import type { Actor } from "../members/roles.ts";
import { requireRole } from "../members/roles.ts";

export interface AuditQuery {
  page: number;
  per_page: number;
  action?: string | undefined;
}

export function auditView(row: AuditLogRow) {
  return {
    id: row.id,
    at: row.created,
    actor: { type: row.actor_type, id: row.actor_id || null, label: row.actor_label || null },
    action: row.action,
    target: row.target_type ? { type: row.target_type, id: row.target_id } : null,
    outcome: row.outcome,
    ip: row.ip || null,
    user_agent: row.user_agent || null,
    metadata: row.metadata ?? {},
  };
}

/** The tenant's audit log, newest first. Owners and admins only. */
export async function listAudit(deps: AuthDeps, actor: Actor, query: AuditQuery) {
  requireRole(actor, ["owner", "admin"]);
  const page = await deps.db
    .forTenant(actor.tenantId)
    .collection("audit_logs")
    .list({
      page: query.page,
      perPage: query.per_page,
      sort: "-created,-id",
      ...(query.action ? { filter: "action = {:action}", params: { action: query.action } } : {}),
    });
  return {
    items: page.items.map(auditView),
    page: page.page,
    per_page: page.perPage,
    total: page.totalItems,
    total_pages: page.totalPages,
  };
}
