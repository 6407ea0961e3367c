import type { PeriodId } from "@cloudfreedom/shared";
import type { Redis } from "ioredis";
import { admissionKeys } from "./keys.ts";

export interface ScopeCounters {
  spent: number;
  reserved: number;
}

export interface PeriodCounters {
  /** False until the counters were rebuilt for this period; the numbers are then not to be trusted. */
  seeded: boolean;
  queries: number;
  tenant: ScopeCounters;
  users: Record<string, ScopeCounters>;
  keys: Record<string, ScopeCounters>;
}

function scopeOf(table: Record<string, ScopeCounters>, id: string): ScopeCounters {
  const existing = table[id];
  if (existing) return existing;
  const created = { spent: 0, reserved: 0 };
  table[id] = created;
  return created;
}

/** The period hash as numbers (for `GET /v1/budget` and the rollover snapshot). */
export function parsePeriodHash(hash: Record<string, string>): PeriodCounters {
  const counters: PeriodCounters = {
    seeded: "seeded" in hash,
    queries: Number(hash.queries ?? 0),
    tenant: { spent: 0, reserved: 0 },
    users: {},
    keys: {},
  };
  for (const [field, raw] of Object.entries(hash)) {
    const match = /^(spent|rsv):(tenant|user|key)(?::(.+))?$/.exec(field);
    if (!match) continue;
    const [, kind, scope, id] = match;
    const target =
      scope === "tenant"
        ? counters.tenant
        : id
          ? scopeOf(scope === "user" ? counters.users : counters.keys, id)
          : null;
    if (!target) continue;
    if (kind === "spent") target.spent = Number(raw);
    else target.reserved = Number(raw);
  }
  return counters;
}

export async function readPeriodCounters(
  redis: Redis,
  tenantId: string,
  period: PeriodId,
): Promise<PeriodCounters> {
  return parsePeriodHash(await redis.hgetall(admissionKeys.period(tenantId, period)));
}
