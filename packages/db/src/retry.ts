import { ClientResponseError } from "pocketbase";

export interface RetryPolicy {
  /** Total tries, the first included. */
  attempts: number;
  baseDelayMs: number;
  maxDelayMs: number;
}

/** Exponential backoff with full jitter: attempt 1 waits up to base, attempt 2 up to 2×base, … capped. */
export function backoffDelay(
  policy: RetryPolicy,
  attempt: number,
  random: () => number = Math.random,
): number {
  const ceiling = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** Math.max(0, attempt - 1));
  return Math.round(ceiling / 2 + (random() * ceiling) / 2);
}

/** Failures of the request as a whole that may succeed later: unreachable, rate limited, server error. */
export function isRetryable(error: unknown): boolean {
  if (!(error instanceof ClientResponseError)) return false;
  return error.status === 0 || error.status === 429 || error.status >= 500;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
