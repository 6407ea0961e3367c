/**
 * The router's added latency at one percentile: via the router minus direct, in ms. A direct run slower than
 * the router's (a stall of the machine during the direct phase: wrk's p99 of a few thousand requests is one
 * slow request) gives no figure rather than a negative one, as does a phase the load generator gave no figure for.
 */
export function addedLatency(viaMs: number, directMs: number): string {
  if (!Number.isFinite(viaMs) || !Number.isFinite(directMs))
    return "n/a (no latency figure from the load generator)";
  if (viaMs >= directMs) return `${(viaMs - directMs).toFixed(3)} ms`;
  return `n/a (direct ${directMs.toFixed(3)} ms > via the router ${viaMs.toFixed(3)} ms: the machine stalled in the direct phase; run again)`;
}
