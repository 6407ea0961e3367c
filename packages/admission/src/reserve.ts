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
  /**
   * Admit only if every limit would still fit this many such requests (default 1): holds taken ahead of
   * requests (`HoldPrefetcher`) ask for room, so none is taken near a limit.
   */
  room?: number;
}

const limit = (value: number | null): number => (value === null ? -1 : value);

/** Requests of one tenant and period admitted by one script run at most. */
export const MAX_ADMIT_BATCH = 64;

/**
 * KEYS then ARGV of the admit script for requests of one tenant and period, in its documented order:
 * the key limiters the batch refers to are KEYS 4…, each request names its own by index.
 */
export function admitArgs(batch: readonly ReserveRequest[]): Array<string | number> {
  const first = batch[0];
  if (!first) throw new RangeError("admitArgs: an empty batch");
  const t = first.tenantId;
  const limiterIndex = new Map<string, number>();
  const keys: string[] = [
    admissionKeys.period(t, first.period),
    admissionKeys.due(t),
    admissionKeys.tenantRate(t),
  ];
  const fields: Array<string | number> = [];
  for (const req of batch) {
    if (req.tenantId !== t || req.period !== first.period || req.ttlMs !== first.ttlMs)
      throw new RangeError("admitArgs: a batch is one tenant, period and hold lifetime");
    let index = limiterIndex.get(req.keyId);
    if (index === undefined) {
      keys.push(admissionKeys.keyRate(t, req.keyId));
      index = keys.length;
      limiterIndex.set(req.keyId, index);
    }
    const l = req.limits;
    fields.push(
      req.reservationId,
      // Integers: the script copies them into the hold as written.
      Math.max(0, Math.ceil(req.cost.micros)),
      Math.max(0, Math.ceil(req.cost.tokens)),
      req.userId ?? "",
      req.keyId,
      index,
      limit(l.tenantBudget),
      limit(req.userId ? l.userBudget : null),
      limit(l.keyBudget),
      limit(l.queryLimit),
      limit(l.tenantRpm),
      limit(l.tenantTpm),
      limit(l.keyRpm),
      limit(l.keyTpm),
      req.dryRun ? "1" : "0",
      Math.max(1, Math.floor(req.room ?? 1)),
    );
  }
  return [keys.length, ...keys, Math.max(1, Math.floor(first.ttlMs)), first.period, batch.length, ...fields];
}

/** One EVALSHA for a batch of one tenant's requests: check each and, if admitted, hold its maximum cost. */
export async function runAdmit(redis: Redis, batch: readonly ReserveRequest[]): Promise<AdmitReply[]> {
  const raw = await defineAdmissionCommands(redis).cfAdmissionAdmit(...admitArgs(batch));
  if (!Array.isArray(raw) || raw.length !== batch.length)
    throw new TypeError(`unexpected admit reply for ${batch.length} requests: ${JSON.stringify(raw)}`);
  return raw.map(parseAdmitReply);
}

interface Waiting {
  req: ReserveRequest;
  resolve: (reply: AdmitReply) => void;
  reject: (error: unknown) => void;
}

/**
 * Opportunistic batching of admission, per tenant and period: a request goes to Redis at once when no
 * admission of its tenant is in flight; otherwise it waits for that round trip and goes with every request
 * that arrived meanwhile, in one script run. Alone, a request pays exactly one round trip as before; under
 * load, a tenant's concurrent requests share one script run, which reads and writes the counters once. The
 * script decides the requests in arrival order, each as if alone, so limits are exactly as precise. When a
 * full batch is waiting, it is sent at once too (one connection keeps the order): a slow Redis delays a
 * backlog by one round trip, not by one per batch.
 */
export class AdmitBatcher {
  private readonly groups = new Map<string, { senders: number; waiting: Waiting[] }>();

  constructor(private readonly redis: Redis) {}

  admit(req: ReserveRequest): Promise<AdmitReply> {
    const id = `${req.tenantId}\n${req.period}\n${req.ttlMs}`;
    let group = this.groups.get(id);
    if (!group) {
      group = { senders: 0, waiting: [] };
      this.groups.set(id, group);
    }
    const reply = new Promise<AdmitReply>((resolve, reject) => group.waiting.push({ req, resolve, reject }));
    if (group.senders === 0 || group.waiting.length >= MAX_ADMIT_BATCH) void this.send(id, group);
    return reply;
  }

  private async send(id: string, group: { senders: number; waiting: Waiting[] }): Promise<void> {
    group.senders += 1;
    while (group.waiting.length > 0) {
      const batch = group.waiting.splice(0, MAX_ADMIT_BATCH);
      try {
        const replies = await runAdmit(
          this.redis,
          batch.map((w) => w.req),
        );
        batch.forEach((w, i) => {
          const reply = replies[i];
          if (reply) w.resolve(reply);
          else w.reject(new TypeError("no admit reply"));
        });
      } catch (error) {
        for (const w of batch) w.reject(error);
      }
    }
    group.senders -= 1;
    if (group.senders === 0 && group.waiting.length === 0 && this.groups.get(id) === group)
      this.groups.delete(id);
  }
}
