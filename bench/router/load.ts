// A closed-loop load generator: `concurrency` loops, each sending its next request when the last answered.
import { unlink } from "node:fs/promises";

export interface LoadResult {
  requests: number;
  errors: number;
  seconds: number;
  rps: number;
  p50: number;
  p90: number;
  p99: number;
  /** wrk's own CPU time over the phase (user + system), µs; absent for the in-process load. */
  generatorCpuUs?: number;
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

/**
 * The same closed loop driven by wrk (C, one thread, keep-alive): on a 2-core machine the load generator
 * shares the cores with what it measures, and wrk spends a fraction of the CPU per request that a fetch loop
 * does. Returns null when wrk is not installed (`apt-get install wrk`).
 */
export async function runWrk(options: {
  url: string;
  headers: Record<string, string>;
  body: string;
  concurrency: number;
  durationMs: number;
  /** Run wrk on these CPUs only (taskset syntax), as when the router is pinned. */
  cpus?: string;
  /** Told of the wrk process once started (the bench stops it should it be interrupted). */
  started?: (proc: { kill(): void }) => void;
}): Promise<LoadResult | null> {
  const wrk = Bun.which("wrk");
  if (!wrk) return null;
  const script = `/tmp/cloudfreedom-bench-wrk-${process.pid}.lua`;
  const lua = [
    'wrk.method = "POST"',
    `wrk.body = ${JSON.stringify(options.body)}`,
    ...Object.entries(options.headers).map(
      ([name, value]) => `wrk.headers[${JSON.stringify(name)}] = ${JSON.stringify(value)}`,
    ),
  ].join("\n");
  await Bun.write(script, lua);
  const seconds = Math.max(1, Math.round(options.durationMs / 1000));
  const proc = Bun.spawn(
    [
      ...(options.cpus ? ["taskset", "-c", options.cpus] : []),
      wrk,
      "-t1",
      `-c${options.concurrency}`,
      `-d${seconds}s`,
      "--latency",
      "-s",
      script,
      options.url,
    ],
    { stdout: "pipe", stderr: "pipe" },
  );
  options.started?.(proc);
  const [out, err] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text()]);
  const code = await proc.exited;
  const cpu = proc.resourceUsage()?.cpuTime.total;
  await unlink(script).catch(() => {});
  if (code !== 0) throw new Error(`wrk failed: ${err || out}`);
  const ms = (label: string): number => {
    const match = new RegExp(`^\\s*${label}\\s+([\\d.]+)(us|ms|s)\\s*$`, "m").exec(out);
    if (!match?.[1]) return Number.NaN;
    const value = Number(match[1]);
    return match[2] === "us" ? value / 1000 : match[2] === "s" ? value * 1000 : value;
  };
  const requests = Number(/(\d+) requests in/.exec(out)?.[1] ?? 0);
  const socketErrors = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
  const errors =
    Number(/Non-2xx or 3xx responses: (\d+)/.exec(out)?.[1] ?? 0) +
    (socketErrors ? socketErrors.slice(1).reduce((sum, n) => sum + Number(n), 0) : 0);
  return {
    requests,
    errors,
    seconds,
    rps: Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1] ?? 0),
    p50: ms("50%"),
    p90: ms("90%"),
    p99: ms("99%"),
    ...(cpu === undefined ? {} : { generatorCpuUs: Number(cpu) }),
  };
}
