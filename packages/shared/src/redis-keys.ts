import { z } from "zod";
import type { PeriodId } from "./period.ts";

/**
 * Redis names shared between services. Per-tenant keys carry the hash tag `{t:<tenant>}` so one admission
 * script touches one Cluster slot (DESIGN.md §5).
 */
export const INVALIDATE_CHANNEL = "cf:invalidate";

export const Invalidation = z.discriminatedUnion("kind", [
  z.object({ kind: z.literal("key"), key_hash: z.string().min(1) }),
  z.object({ kind: z.literal("tenant"), tenant_id: z.string().min(1) }),
  z.object({ kind: z.literal("catalog") }),
]);
export type Invalidation = z.infer<typeof Invalidation>;

export const redisKeys = {
  keyRecord: (keyHash: string) => `cf:key:${keyHash}`,
  /** Sorted set: member key id, score last use (ms). The router adds in batches; auth's worker drains it. */
  keyLastUsed: "cf:keys:last-used",
  /** When the user's sessions were last ended (epoch s; read by auth before `iat_ms` existed). */
  sessionsEnded: (userId: string) => `cf:auth:sessions-ended:${userId}`,
  /** The same in epoch ms: access tokens issued before it are refused. */
  sessionsEndedMs: (userId: string) => `cf:auth:sessions-ended-ms:${userId}`,
  /**
   * Set of plan ids the seed changed whose tenants' KeyRecords are not all rewritten yet: written before the
   * plan row, emptied as the tenants are published, so a start cut short finishes the refresh at the next one.
   */
  seedPlansToRefresh: "cf:seed:plans-to-refresh",
  tenant: (tenantId: string, ...parts: string[]) => `cf:{t:${tenantId}}:${parts.join(":")}`,
  spend: (tenantId: string, scope: string, scopeId: string, period: PeriodId) =>
    `cf:{t:${tenantId}}:spend:${scope}:${scopeId}:${period}`,
  queries: (tenantId: string, period: PeriodId) => `cf:{t:${tenantId}}:queries:${period}`,
} as const;
