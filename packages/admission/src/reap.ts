import type { Redis } from "ioredis";
import { defineAdmissionCommands } from "./commands.ts";
import { admissionKeys, DUE_PATTERN, tenantOfDueKey } from "./keys.ts";

export interface ReapReport {
  tenants: number;
  /** Open reservations past their deadline whose hold (and query) was released. */
  reaped: number;
}

/**
 * Tenants with open reservations, by `SCAN` over their due sets (a repeatable job may afford a scan;
 * the hot path never scans). On Redis Cluster, call it once per master node.
 */
export async function findTenantsWithReservations(redis: Redis): Promise<string[]> {
  const tenants = new Set<string>();
  let cursor = "0";
  do {
    const [next, keys] = await redis.scan(cursor, "MATCH", DUE_PATTERN, "COUNT", 1000);
    cursor = next;
    for (const key of keys) {
      const tenant = tenantOfDueKey(key);
      if (tenant) tenants.add(tenant);
    }
  } while (cursor !== "0");
  return [...tenants];
}

/**
 * Releases reservations whose router died (past their deadline) so they stop counting against budgets and
 * gives their queries back. The billing worker's `reservation_reaper` job calls this; it works in slices of
 * `batch` per script run so Redis is never blocked long.
 */
export async function reapReservations(
  redis: Redis,
  options: { tenantIds?: string[]; batch?: number } = {},
): Promise<ReapReport> {
  const client = defineAdmissionCommands(redis);
  const tenantIds = options.tenantIds ?? (await findTenantsWithReservations(redis));
  const batch = Math.max(1, options.batch ?? 500);
  const report: ReapReport = { tenants: tenantIds.length, reaped: 0 };
  for (const tenantId of tenantIds) {
    for (;;) {
      const reply = await client.cfAdmissionReap(
        admissionKeys.due(tenantId),
        admissionKeys.prefix(tenantId),
        batch,
      );
      const [reaped, stillDue] = Array.isArray(reply) ? reply.map(Number) : [0, 0];
      report.reaped += reaped ?? 0;
      if (!stillDue) break;
    }
  }
  return report;
}
