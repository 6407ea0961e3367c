import type { Deployment } from "@cloudfreedom/shared";

/**
 * The order in which to try a model's deployments: a weighted random permutation (the first pick follows
 * the weights exactly; the rest are fallbacks in weighted order).
 */
export function weightedOrder<T extends Pick<Deployment, "weight">>(
  items: readonly T[],
  random = Math.random,
): T[] {
  const pool = [...items];
  const order: T[] = [];
  while (pool.length > 0) {
    const total = pool.reduce((sum, item) => sum + item.weight, 0);
    let pick = random() * total;
    let index = 0;
    for (; index < pool.length - 1; index++) {
      pick -= pool[index]?.weight ?? 0;
      if (pick < 0) break;
    }
    const [chosen] = pool.splice(index, 1);
    if (chosen) order.push(chosen);
  }
  return order;
}

/** Exponential backoff with full jitter, never below what the upstream asked for in Retry-After. */
export function backoffMs(
  attempt: number,
  baseMs: number,
  maxMs: number,
  retryAfterMs: number | null,
  random = Math.random,
): number {
  const ceiling = Math.min(maxMs, baseMs * 2 ** Math.max(0, attempt - 1));
  const jittered = Math.round(random() * ceiling);
  return retryAfterMs === null ? jittered : Math.min(maxMs, Math.max(jittered, retryAfterMs));
}
