import { z } from "zod";

/**
 * Money is integer micro-units of the platform currency: 1 EUR = 1,000,000 (DESIGN.md §6).
 * Nothing here multiplies a stored amount by a float.
 */
export const MICROS_PER_UNIT = 1_000_000;
export const TOKENS_PER_PRICE_UNIT = 1_000_000;

export const Micros = z.number().int({ message: "must be an integer amount of micro-units" });
export type Micros = z.infer<typeof Micros>;
export const NonNegativeMicros = Micros.nonnegative();
/**
 * A limit in micro-units. Rows and KeyRecords store "no limit" as 0 (PocketBase's empty number), so a limit of 0
 * cannot be told from none: it is refused, not stored as unlimited. `null` is how a contract says "no limit".
 */
export const LimitMicros = Micros.min(1, {
  message: "must be at least 1 micro-unit: 0 would read as no limit (send null for no limit)",
});

export const Currency = z.string().regex(/^[A-Z]{3}$/, { message: "must be an ISO 4217 code like EUR" });
export type Currency = z.infer<typeof Currency>;

const DECIMAL = /^(-)?(\d+)(?:\.(\d{1,6}))?$/;

/** Parse "9.99" into 9_990_000 without going through a float. */
export function parseMicros(decimal: string): Micros {
  const match = DECIMAL.exec(decimal.trim());
  if (!match) throw new RangeError(`not a decimal amount with at most 6 decimals: "${decimal}"`);
  const [, sign, whole = "0", fraction = ""] = match;
  const value = BigInt(whole) * 1_000_000n + BigInt(fraction.padEnd(6, "0"));
  const signed = sign ? -value : value;
  if (signed > BigInt(Number.MAX_SAFE_INTEGER) || signed < BigInt(Number.MIN_SAFE_INTEGER)) {
    throw new RangeError(`amount out of range: "${decimal}"`);
  }
  return Number(signed);
}

/** Format micro-units as a fixed 2..6-decimal string ("9.99", "0.000125"). */
export function formatMicros(micros: Micros, minDecimals = 2): string {
  const negative = micros < 0;
  const abs = BigInt(Math.abs(micros));
  const whole = abs / 1_000_000n;
  let fraction = (abs % 1_000_000n).toString().padStart(6, "0").replace(/0+$/, "");
  if (fraction.length < minDecimals) fraction = fraction.padEnd(minDecimals, "0");
  return `${negative ? "-" : ""}${whole}${fraction ? `.${fraction}` : ""}`;
}

/**
 * Cost of `tokens` at `pricePerMillion` micro-units per million tokens, rounded up to a whole micro-unit
 * so that many small requests never sum to less than their true cost.
 */
export function tokenCost(tokens: number, pricePerMillion: Micros): Micros {
  if (!Number.isInteger(tokens) || tokens < 0) throw new RangeError(`tokens must be a non-negative integer`);
  if (!Number.isInteger(pricePerMillion) || pricePerMillion < 0) {
    throw new RangeError(`price must be a non-negative integer of micro-units`);
  }
  return ceilDiv(tokens, pricePerMillion, TOKENS_PER_PRICE_UNIT);
}

/**
 * Cost of `tokens` at `factor` × `pricePerMillion` (a premium like 5/4), rounded up to a whole micro-unit:
 * ⌈tokens × price × numerator / (1,000,000 × denominator)⌉ in integers, never a float price.
 */
export function scaledTokenCost(
  tokens: number,
  pricePerMillion: Micros,
  factor: { numerator: number; denominator: number },
): Micros {
  if (!Number.isInteger(tokens) || tokens < 0) throw new RangeError(`tokens must be a non-negative integer`);
  if (!Number.isInteger(pricePerMillion) || pricePerMillion < 0) {
    throw new RangeError(`price must be a non-negative integer of micro-units`);
  }
  return ceilDiv(tokens, pricePerMillion * factor.numerator, TOKENS_PER_PRICE_UNIT * factor.denominator);
}

/**
 * ⌈a × b / divisor⌉ for non-negative integers, exactly. In doubles while a × b is a safe integer (every
 * step below is then exact integer arithmetic), which is every realistic request and ~10× cheaper than
 * BigInt on the request path; in BigInt beyond.
 */
function ceilDiv(a: number, b: number, divisor: number): number {
  const product = a * b;
  if (product <= Number.MAX_SAFE_INTEGER) {
    let quotient = Math.floor(product / divisor);
    let rest = product - quotient * divisor;
    // The division is rounded to the nearest double: it can land one off near a whole quotient.
    if (rest < 0) {
      quotient -= 1;
      rest += divisor;
    } else if (rest >= divisor) {
      quotient += 1;
      rest -= divisor;
    }
    return rest > 0 ? quotient + 1 : quotient;
  }
  const big = BigInt(divisor);
  return Number((BigInt(a) * BigInt(b) + big - 1n) / big);
}

/** Markup in whole percent (20 = +20 %). Billed = cost × (100 + markup) / 100, rounded up. */
export function applyMarkup(cost: Micros, markupPct: number): Micros {
  if (!Number.isInteger(markupPct) || markupPct < 0)
    throw new RangeError("markup must be a whole percentage");
  if (!Number.isInteger(cost) || cost < 0)
    throw new RangeError("cost must be a non-negative integer of micro-units");
  return ceilDiv(cost, 100 + markupPct, 100);
}
