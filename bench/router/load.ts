// A closed-loop load generator: `concurrency` loops, each sending its next request when the last answered.

export interface LoadResult {
  requests: number;
  errors: number;
  seconds: number;
  rps: number;
  p50: number;
  p90: number;
  p99: number;
}

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
}

export async function runLoad(options: {
  request: () => Promise<Response>;
  concurrency: number;
  durationMs?: number;
  count?: number;
  readBody: "json" | "text";
}): Promise<LoadResult> {
  const latencies: number[] = [];
  let errors = 0;
  let issued = 0;
  const started = performance.now();
  const deadline = options.durationMs ? started + options.durationMs : Number.POSITIVE_INFINITY;
  const limit = options.count ?? Number.POSITIVE_INFINITY;
  const loop = async () => {
    while (performance.now() < deadline && issued < limit) {
      issued++;
      const t0 = performance.now();
      try {
        const res = await options.request();
        await (options.readBody === "json" ? res.json() : res.text());
        if (!res.ok) errors++;
      } catch {
        errors++;
      }
      latencies.push(performance.now() - t0);
    }
  };
  await Promise.all(Array.from({ length: options.concurrency }, loop));
  const seconds = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  return {
    requests: latencies.length,
    errors,
    seconds,
    rps: latencies.length / seconds,
    p50: percentile(latencies, 50),
    p90: percentile(latencies, 90),
    p99: percentile(latencies, 99),
  };
}
