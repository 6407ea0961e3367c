import type { BudgetScope } from "./keys.ts";

/** The tightest rate limit that applied to an admitted request; `null` fields: no such limit. */
export interface RateStatus {
  limitRequests: number | null;
  remainingRequests: number | null;
  limitTokens: number | null;
  remainingTokens: number | null;
}

export type AdmitReply =
  | {
      kind: "ok";
      rate: RateStatus;
      budgetRemaining: number | null;
      hold: string | null;
      /** Queries the tenant has left this period after this request; null when it has no query limit. */
      queriesRemaining: number | null;
    }
  | { kind: "unseeded" }
  | { kind: "budget"; scope: BudgetScope; limit: number; spent: number; reserved: number }
  | { kind: "queries"; limit: number; used: number }
  | {
      kind: "rate";
      scope: "key" | "tenant";
      dimension: "requests" | "tokens";
      limit: number;
      waitMs: number;
    };

export type SettleReply =
  | { kind: "settled" | "charged" | "duplicate" | "unknown" }
  | { kind: "unseeded"; period: string | null };

function items(raw: unknown, what: string): unknown[] {
  if (!Array.isArray(raw) || raw.length === 0)
    throw new TypeError(`unexpected ${what} reply: ${JSON.stringify(raw)}`);
  return raw;
}

function num(value: unknown): number {
  const n = typeof value === "number" ? value : Number(value);
  if (!Number.isFinite(n)) throw new TypeError(`not a number in admission reply: ${String(value)}`);
  return n;
}

const orNull = (value: unknown): number | null => {
  const n = num(value);
  return n < 0 ? null : n;
};

function oneOf<T extends string>(value: unknown, allowed: readonly T[]): T {
  const found = allowed.find((candidate) => candidate === value);
  if (found === undefined) throw new TypeError(`unexpected value in admission reply: ${String(value)}`);
  return found;
}

/** The admit script's array reply as a typed value. */
export function parseAdmitReply(raw: unknown): AdmitReply {
  const [kind, ...rest] = items(raw, "admit");
  switch (kind) {
    case "ok":
      return {
        kind,
        rate: {
          limitRequests: orNull(rest[0]),
          remainingRequests: orNull(rest[1]),
          limitTokens: orNull(rest[2]),
          remainingTokens: orNull(rest[3]),
        },
        budgetRemaining: orNull(rest[4]),
        hold: typeof rest[5] === "string" && rest[5] !== "" ? rest[5] : null,
        queriesRemaining: rest[6] === undefined ? null : orNull(rest[6]),
      };
    case "unseeded":
      return { kind };
    case "budget":
      return {
        kind,
        scope: oneOf(rest[0], ["tenant", "user", "key"] as const),
        limit: num(rest[1]),
        spent: num(rest[2]),
        reserved: num(rest[3]),
      };
    case "queries":
      return { kind, limit: num(rest[0]), used: num(rest[1]) };
    case "rate":
      return {
        kind,
        scope: oneOf(rest[0], ["key", "tenant"] as const),
        dimension: oneOf(rest[1], ["requests", "tokens"] as const),
        limit: num(rest[2]),
        waitMs: num(rest[3]),
      };
    default:
      throw new TypeError(`unexpected admit reply: ${JSON.stringify(raw)}`);
  }
}

/** One status of the settle script's reply: `settled`, `charged`, `duplicate`, `unknown` or `unseeded:<period>`. */
export function parseSettleStatus(raw: unknown): SettleReply {
  if (typeof raw === "string" && raw.startsWith("unseeded:")) {
    const period = raw.slice("unseeded:".length);
    return { kind: "unseeded", period: period === "" ? null : period };
  }
  return { kind: oneOf(raw, ["settled", "charged", "duplicate", "unknown"] as const) };
}
