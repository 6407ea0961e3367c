import type { PeriodId } from "@cloudfreedom/shared";
import type { Redis } from "ioredis";
import { defineAdmissionCommands } from "./commands.ts";
import type { AdmissionLimits, MaxCost } from "./cost.ts";
import { admissionKeys } from "./keys.ts";
import { type AdmitReply, parseAdmitReply } from "./replies.ts";

export interface ReserveRequest {
  /** Unique per request; settlement and the usage event refer to it. */
  reservationId: string;
  tenantId: string;
  keyId: string;
  userId: string | null;
  period: PeriodId;
  /** When the period ends, for denials; default: the calendar month's end (periods with an anchor differ). */
  periodEnd?: Date;
  cost: MaxCost;
  limits: AdmissionLimits;
  /** How long the hold lives if nobody settles it (a crashed router); the reaper releases it after. */
  ttlMs: number;
  /** Decide only (the billing API's budget check without a reservation). */
  dryRun?: boolean;
}

const limit = (value: number | null): number => (value === null ? -1 : value);

/** KEYS then ARGV of the admit script, in its documented order. */
export function admitArgs(req: ReserveRequest): Array<string | number> {
  const t = req.tenantId;
  const l = req.limits;
  return [
    admissionKeys.period(t, req.period),
    admissionKeys.due(t),
    admissionKeys.tenantRate(t),
    admissionKeys.keyRate(t, req.keyId),
    req.reservationId,
    req.cost.micros,
    req.cost.tokens,
    Math.max(1, Math.floor(req.ttlMs)),
    req.period,
    req.userId ?? "",
    req.keyId,
    limit(l.tenantBudget),
    limit(req.userId ? l.userBudget : null),
    limit(l.keyBudget),
    limit(l.queryLimit),
    limit(l.tenantRpm),
    limit(l.tenantTpm),
    limit(l.keyRpm),
    limit(l.keyTpm),
    req.dryRun ? "1" : "0",
  ];
}

/** One EVALSHA: check everything and, if admitted, hold the request's maximum cost and tokens. */
export async function runAdmit(redis: Redis, req: ReserveRequest): Promise<AdmitReply> {
  return parseAdmitReply(await defineAdmissionCommands(redis).cfAdmissionAdmit(...admitArgs(req)));
}
