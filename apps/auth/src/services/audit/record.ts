import type { AuditLogRow } from "@cloudfreedom/db";
import type { AuthDeps, ClientInfo } from "../../deps.ts";

export interface AuditEntry {
  /** null for events of no tenant (a failed login for an unknown email). */
  tenantId: string | null;
  actor: { type: AuditLogRow["actor_type"]; id?: string; label?: string };
  /** Dotted verb: `auth.login`, `key.revoke`, `member.role_change`… */
  action: string;
  target?: { type: string; id: string };
  outcome: "success" | "failure";
  client?: ClientInfo;
  metadata?: Record<string, unknown>;
}

/**
 * Appends an audit row. An audit failure is logged, never surfaced: the action it records already happened.
 * Never put secrets or passwords in `metadata`.
 */
export async function recordAudit(deps: Pick<AuthDeps, "db" | "logger">, entry: AuditEntry): Promise<void> {
  const row = {
    actor_type: entry.actor.type,
    actor_id: entry.actor.id ?? "",
    actor_label: (entry.actor.label ?? "").slice(0, 255),
    action: entry.action,
    target_type: entry.target?.type ?? "",
    target_id: entry.target?.id ?? "",
    outcome: entry.outcome,
    ip: (entry.client?.ip ?? "").slice(0, 64),
    user_agent: (entry.client?.userAgent ?? "").slice(0, 1024),
    metadata: entry.metadata ?? null,
  };
  try {
    if (entry.tenantId) await deps.db.forTenant(entry.tenantId).collection("audit_logs").create(row);
    else await deps.db.operator.collection("audit_logs").create(row);
  } catch (error) {
    deps.logger.error(
      { err: error, action: entry.action, tenant: entry.tenantId },
      "could not write an audit row",
    );
  }
}
