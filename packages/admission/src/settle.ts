import { PeriodId } from "@cloudfreedom/shared";
import type { Redis } from "ioredis";
import { defineAdmissionCommands } from "./commands.ts";
import { admissionKeys } from "./keys.ts";
import { parseSettleStatus, type SettleReply } from "./replies.ts";

export interface SettleRequest {
  reservationId: string;
  tenantId: string;
  keyId: string | null;
  userId: string | null;
  /** The period the usage belongs to: the reservation's (charged there when the hold is gone). */
  period: PeriodId;
  /** The hold admission returned (`Reservation.hold`); absent when unknown (a confirmation from an event). */
  hold?: string | null;
  /** Actual billed cost (provider cost + markup) and tokens (input + output). */
  billedMicros: number;
  tokens: number;
  /** An error that produced nothing: the request's query is given back. */
  refundable: boolean;
  /** A prefetched hold that no request used: its query and its request in the rate windows are given back. */
  unused?: boolean;
  /**
   * What to do when no hold is found and the id is not remembered as settled (reaped, lost, or never held):
   * `charge` adds the cost (the router, and usage reported from elsewhere), `ignore` changes nothing (a late
   * confirmation that cannot tell whether its settlement already happened).
   */
  onUnknown?: "charge" | "ignore";
}

/** The settle script's per-call fields, in its documented order. */
export function settleFields(req: SettleRequest): Array<string | number> {
  return [
    req.reservationId,
    req.hold ?? "",
    Math.max(0, Math.round(req.billedMicros)),
    Math.max(0, Math.round(req.tokens)),
    req.unused ? "2" : req.refundable ? "1" : "0",
    req.userId ?? "",
    req.keyId ?? "",
    req.period,
    req.onUnknown ?? "charge",
  ];
}

export type SettleResult = SettleReply | { kind: "failed"; error: Error };

const asError = (error: unknown): Error => (error instanceof Error ? error : new Error(String(error)));

/**
 * Settles a batch in one pipelined round trip: one script run per tenant in the batch (a script touches one
 * tenant's slot). Each call succeeds or fails on its own.
 */
export async function runSettleBatch(
  redis: Redis,
  batch: SettleRequest[],
  retentionMs: number,
  /** Other retentions whose remembered ids count as settled too (another settler's). */
  alsoKnownMs: readonly number[] = [],
): Promise<SettleResult[]> {
  if (batch.length === 0) return [];
  const byTenant = new Map<string, number[]>();
  batch.forEach((req, i) => {
    const indexes = byTenant.get(req.tenantId);
    if (indexes) indexes.push(i);
    else byTenant.set(req.tenantId, [i]);
  });
  const pipeline = defineAdmissionCommands(redis).pipeline();
  const retention = Math.max(1, Math.floor(retentionMs));
  const retentions = [
    retention,
    ...new Set(alsoKnownMs.map((ms) => Math.max(1, Math.floor(ms))).filter((ms) => ms !== retention)),
  ].join(",");
  for (const [tenantId, indexes] of byTenant) {
    const fields = indexes.flatMap((i) => {
      const req = batch[i];
      return req ? settleFields(req) : [];
    });
    pipeline.cfAdmissionSettle(
      admissionKeys.due(tenantId),
      retentions,
      admissionKeys.prefix(tenantId),
      ...fields,
    );
  }
  const replies = (await pipeline.exec()) ?? [];
  // Filled per tenant below; an Error (and its stack) is made only for a call that got no reply.
  const results: Array<SettleResult | undefined> = new Array(batch.length);
  [...byTenant.values()].forEach((indexes, t) => {
    const [error, raw] = replies[t] ?? [null, null];
    indexes.forEach((i, j) => {
      if (error) results[i] = { kind: "failed", error };
      else if (!Array.isArray(raw))
        results[i] = { kind: "failed", error: new TypeError(`unexpected settle reply: ${String(raw)}`) };
      else {
        try {
          results[i] = parseSettleStatus(raw[j]);
        } catch (parseError) {
          results[i] = { kind: "failed", error: asError(parseError) };
        }
      }
    });
  });
  return Array.from(
    results,
    (result) => result ?? { kind: "failed", error: new Error("no reply from the settle pipeline") },
  );
}

/**
 * The budget scopes and period a hold was taken for, read from the hold as the admit script writes it
 * (`id|period|amount|tokens|window|user|key|limiters`); null for text that is not a hold. Settlement releases
 * a hold from the scopes of the call it settles, so a call must name the same user and key as its hold, and
 * charges it to the hold's period, so the call's usage belongs there too.
 */
export function holdScopes(
  hold: string,
): { period: PeriodId; userId: string | null; keyId: string | null } | null {
  const parts = hold.split("|");
  const period = PeriodId.safeParse(parts[1]);
  if (parts.length < 7 || !period.success) return null;
  return { period: period.data, userId: parts[5] || null, keyId: parts[6] || null };
}

/** The micro-units a hold keeps from every budget scope (its third field); 0 for text that is not a hold. */
export function holdMicros(hold: string | null | undefined): number {
  const amount = Number(hold?.split("|")[2]);
  return Number.isFinite(amount) && amount > 0 ? amount : 0;
}
