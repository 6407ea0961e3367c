// bench/router: the router's added latency over calling the provider emulator directly (p50/p99 at
// concurrency 1), its throughput at concurrency 32 (non-streaming and streaming) and its memory, in one run.
// Usage: bun bench/router/run.ts [--help] [--duration-ms 10000] [--latency-requests 3000] [--concurrency 32] [--load auto|wrk|bun]
//        [--pin auto|on|off] [--gc-log] [--compare NAME=VALUE | --baseline DIR] [--rounds 6] [--phase-ms 2000]
// The load generator is wrk when installed (`--load auto`, the default), else a fetch loop in this process.
// `--pin` (auto: when taskset is installed and there are 2+ CPUs) gives the router's JS thread a CPU to itself
// during its throughput phases, everything else the other CPUs (see pin.ts); `--pin off` lets the scheduler mix.
// `--gc-log` runs the router with JavaScriptCore's GC log and reports its heap allocation and collections per
// request at full concurrency (see gc-log.ts): a figure that does not drift with the machine's speed.
// `--compare` also starts a second router with one env var changed, `--baseline` the router of another
// checkout (e.g. `git worktree add /tmp/base <commit> && (cd /tmp/base && pnpm install --offline)`), and
// measures both in alternating short phases, round after round (A/B, then B/A), so that the machine's drift
// hits both alike.
import { existsSync, readFileSync } from "node:fs";
import { cpus } from "node:os";
import { resolve } from "node:path";
import { type ParseArgsConfig, parseArgs } from "node:util";
import { createDb, createPocketBase, modelToRow } from "@cloudfreedom/db";
import { encryptSecret, providerSecretContext } from "@cloudfreedom/shared";
import {
  BUN_BIN,
  createApiKey,
  createTenant,
  freePort,
  leaseRedisDb,
  REPO_ROOT,
  startPocketBase,
} from "@cloudfreedom/testing";
import { describeRuntimeEnv, productionRuntimeEnv } from "../runtime-env.ts";
import { addedLatency } from "./added.ts";
import { cpuSnapshot, describeCpuSplit } from "./cpu-split.ts";
import { type GcWindow, gcWindow } from "./gc-log.ts";
import { type LoadResult, runLoad, runWrk } from "./load.ts";
import { LOG_DIR, ROUTER_LOG_PREFIX, removeEndedRunLogs } from "./old-logs.ts";
import { createPinning, type PinMode } from "./pin.ts";
import { resetPeakRss, rssMb, statusNumber } from "./proc.ts";
import { readTextFile } from "./text-file.ts";

const { values } = parseArguments({
  "duration-ms": { type: "string", default: "10000" },
  "latency-requests": { type: "string", default: "3000" },
  concurrency: { type: "string", default: "32" },
  load: { type: "string", default: "auto" },
  pin: { type: "string", default: "auto" },
  "gc-log": { type: "boolean", default: false },
  compare: { type: "string" },
  baseline: { type: "string" },
  rounds: { type: "string", default: "6" },
  "phase-ms": { type: "string", default: "2000" },
  help: { type: "boolean", short: "h", default: false },
});
if (values.help) {
  // The usage is this file's opening comment.
  const header = readFileSync(import.meta.path, "utf8").split("\nimport ")[0] ?? "";
  console.log(header.replace(/^\/\/ ?/gm, ""));
  console.log("More in README.md → Benchmarks.");
  process.exit(0);
}
// Arguments are checked before anything starts.
const durationMs = positiveInteger("duration-ms");
const latencyRequests = positiveInteger("latency-requests");
const concurrency = positiveInteger("concurrency");
const rounds = positiveInteger("rounds");
const phaseMs = positiveInteger("phase-ms");
const load = oneOf("load", ["auto", "wrk", "bun"] as const);
const pinMode: PinMode = oneOf("pin", ["auto", "on", "off"] as const);
const generator = load === "bun" || (load === "auto" && !Bun.which("wrk")) ? "bun" : "wrk";
const say = (line: string) => console.log(`[bench] ${line}`);
const change = values.compare ? parseAssignment(values.compare) : null;
const baseline = values.baseline ? resolve(values.baseline) : null;
if (baseline && !existsSync(`${baseline}/apps/router/src/server.ts`))
  usageError(
    `--baseline ${baseline}: no router there (apps/router/src/server.ts); give the root of a checkout`,
  );
const { pinning, why: pinningWhy, release: releasePinning } = createPinning(pinMode);
// Redis is the machine's, not the bench's: whatever ends the bench gives back the CPUs a phase took from it
// (a SIGKILL cannot be caught: then `taskset -a -c -p <list> <redis pid>`, the list `taskset -c -p $$` prints),
// and the router and emulator processes it started go with it.
const children: Array<{ kill(): void }> = [];
process.on("exit", () => {
  pinning?.restore();
  releasePinning();
  for (const child of children) child.kill();
});
process.on("SIGINT", () => process.exit(130));
process.on("SIGTERM", () => process.exit(143));
process.on("SIGHUP", () => process.exit(129));
const MASTER_KEY = Buffer.alloc(32, 9).toString("base64");

const removed = removeEndedRunLogs(LOG_DIR);
if (removed.files > 0)
  say(
    `removed ${removed.files} router log files of earlier runs (${(removed.bytes / 1e6).toFixed(1)} MB); this run's stay until the next`,
  );
say("starting PocketBase, Redis db, emulator process");
const [pocketbase, redisDb] = await Promise.all([startPocketBase(), leaseRedisDb()]);
const emulatorProc = Bun.spawn([BUN_BIN, `${import.meta.dir}/emulator.ts`], {
  stdout: "pipe",
  stderr: "inherit",
});
children.push(emulatorProc);
const emulatorLine = await readFirstLine(emulatorProc.stdout);
const emulator = JSON.parse(emulatorLine) as { url: string; apiKey: string };

const db = createDb(
  createPocketBase({
    url: pocketbase.url,
    adminEmail: pocketbase.adminEmail,
    adminPassword: pocketbase.adminPassword,
  }),
);
await db.operator.collection("providers").create({
  name: "openai",
  kind: "openai",
  base_url: `${emulator.url}/v1`,
  enabled: true,
  credentials_encrypted: await encryptSecret(
    emulator.apiKey,
    MASTER_KEY,
    providerSecretContext({ name: "openai", kind: "openai", baseUrl: `${emulator.url}/v1` }),
  ),
});
await db.operator.collection("models").create(
  modelToRow({
    model_id: "bench-model",
    display_name: "bench",
    deployments: [{ id: "openai/gpt-4o-mini", provider: "openai", upstream_model: "gpt-4o-mini", weight: 1 }],
    prices: { input_per_million: 150_000, cached_input_per_million: 75_000, output_per_million: 600_000 },
    required_tier: "free",
    tier_restriction_mode: "minimum",
    allowed_tiers: [],
    is_available: true,
    context_window: 128_000,
    max_output_tokens: 16_384,
    capabilities: ["chat"],
  }),
);
const tenant = await createTenant({ db });
const { secret } = await createApiKey({ db, redis: redisDb.redis }, tenant, { tier: "pro" });

/** The router's runtime settings: production's, read once (see runtime-env.ts). */
const runtimeEnv = productionRuntimeEnv();

const logPrefix = `${LOG_DIR}/${ROUTER_LOG_PREFIX}${process.pid}`;
const comparison = change
  ? { label: `${change.name}=${change.value}`, env: { [change.name]: change.value }, root: REPO_ROOT }
  : baseline
    ? { label: `the router of ${baseline}`, env: {}, root: baseline }
    : null;
const router = await startRouter({}, REPO_ROOT);
const routerUrl = router.url;
const other = comparison ? await startRouter(comparison.env, comparison.root) : null;

/**
 * A router process (of the checkout at `root`) on the bench's PocketBase and Redis db. Its stdout (the logs) and
 * stderr (start-up failures, JSC's GC log) go to files of their own: two handles on one file write over each other.
 */
async function startRouter(overrides: Record<string, string>, root: string) {
  const port = await freePort();
  const logFile = `${logPrefix}.${port}.log`;
  const stderrFile = `${logPrefix}.${port}.stderr`;
  const proc = Bun.spawn(
    [BUN_BIN, ...(process.env.BENCH_BUN_FLAGS ?? "").split(" ").filter(Boolean), "src/server.ts"],
    {
      cwd: `${root}/apps/router`,
      env: {
        ...process.env,
        PORT: String(port),
        HOST: "127.0.0.1",
        REDIS_URL: redisDb.url,
        POCKETBASE_URL: pocketbase.url,
        POCKETBASE_ADMIN_EMAIL: pocketbase.adminEmail,
        POCKETBASE_ADMIN_PASSWORD: pocketbase.adminPassword,
        MASTER_KEY,
        NODE_ENV: "production",
        // As docker/Dockerfile sets them for every service.
        ...runtimeEnv,
        ...(values["gc-log"] ? { BUN_JSC_logGC: "1" } : {}),
        ...overrides,
      },
      stdout: Bun.file(logFile),
      stderr: Bun.file(stderrFile),
    },
  );
  children.push(proc);
  const url = `http://127.0.0.1:${port}`;
  await waitReady(`${url}/ready`, `${stderrFile} and ${logFile}`);
  return { proc, url, pid: proc.pid, logFile, stderrFile };
}

const body = JSON.stringify({
  model: "bench-model",
  messages: [{ role: "user", content: "Say hello in five words" }],
  max_tokens: 16,
});
const streamBody = JSON.stringify({
  ...JSON.parse(body),
  stream: true,
  stream_options: { include_usage: true },
});
type Target = "direct" | "router" | "other";
const targets = {
  direct: {
    url: `${emulator.url}/v1/chat/completions`,
    headers: { authorization: `Bearer ${emulator.apiKey}`, "content-type": "application/json" },
    body: (payload: string) => payload.replace("bench-model", "gpt-4o-mini"),
  },
  router: {
    url: `${routerUrl}/v1/chat/completions`,
    headers: { authorization: `Bearer ${secret}`, "content-type": "application/json" },
    body: (payload: string) => payload,
  },
  other: {
    url: `${other?.url}/v1/chat/completions`,
    headers: { authorization: `Bearer ${secret}`, "content-type": "application/json" },
    body: (payload: string) => payload,
  },
} as const;

/**
 * One phase: `count` requests (fetch loop) or the same time's worth (wrk), closed loop at `concurrency`. A
 * router's throughput phase runs pinned when pinning is on; its latency phases (c=1) never do.
 */
async function measure(
  target: Target,
  payload: string,
  phase: { concurrency: number; count?: number; durationMs?: number },
): Promise<LoadResult> {
  const routerPid = target === "router" ? router.pid : target === "other" ? other?.pid : undefined;
  if (!pinning || routerPid === undefined || phase.concurrency === 1)
    return drivePhase(target, payload, phase);
  pinning.pin(routerPid, { emulator: emulatorProc.pid, Redis: redisPid, "the bench": process.pid });
  try {
    return await drivePhase(target, payload, phase, pinning.others);
  } finally {
    pinning.restore();
  }
}

async function drivePhase(
  target: Target,
  payload: string,
  phase: { concurrency: number; count?: number; durationMs?: number },
  cpus?: string,
): Promise<LoadResult> {
  const { url, headers, body } = targets[target];
  if (generator === "wrk") {
    const durationMs = phase.durationMs ?? Math.max(3_000, (phase.count ?? 0) * 1.5);
    const result = await runWrk({
      url,
      headers,
      body: body(payload),
      concurrency: phase.concurrency,
      durationMs,
      ...(cpus ? { cpus } : {}),
      started: (proc) => children.push(proc),
    });
    if (result) return result;
  }
  return runLoad({
    request: () => fetch(url, { method: "POST", headers, body: body(payload) }),
    concurrency: phase.concurrency,
    ...(phase.count !== undefined ? { count: phase.count } : { durationMs: phase.durationMs ?? 0 }),
    readBody: payload === streamBody ? "text" : "json",
  });
}

const redisPid = await redisServerPid(redisDb.redis);
say(`load generator: ${generator}`);
say(`pinning of the router's throughput phases: ${pinning ? pinningWhy : `off (${pinningWhy})`}`);
say("warming up");
await measure("router", body, { concurrency: 8, count: 2_000 });
await measure("direct", body, { concurrency: 8, count: 2_000 });
if (other) await measure("other", body, { concurrency: 8, count: 2_000 });

say(
  generator === "wrk"
    ? `latency at concurrency 1 (wrk: ${latencyRequests} × 1.5 ms each, at least 3 s)`
    : `latency at concurrency 1 (${latencyRequests} requests each)`,
);
const directLatency = await measure("direct", body, { concurrency: 1, count: latencyRequests });
const routerLatency = await measure("router", body, { concurrency: 1, count: latencyRequests });
const directStreamLatency = await measure("direct", streamBody, { concurrency: 1, count: latencyRequests });
const routerStreamLatency = await measure("router", streamBody, { concurrency: 1, count: latencyRequests });

say(`throughput at concurrency ${concurrency} (${durationMs} ms each)`);
const directThroughput = await measure("direct", body, { concurrency, durationMs });
const watched = { router: router.pid, emulator: emulatorProc.pid, Redis: redisPid, "the bench": process.pid };
const cpuBefore = { split: cpuSnapshot(watched), wakeups: wakeups(router.pid) };
const gcFrom = readTextFile(router.stderrFile).length;
const routerThroughput = await measure("router", body, { concurrency, durationMs });
const gc = values["gc-log"] ? gcWindow(readTextFile(router.stderrFile), gcFrom) : null;
const cpuAfter = { split: cpuSnapshot(watched), wakeups: wakeups(router.pid) };
const routerStreamThroughput = await measure("router", streamBody, { concurrency, durationMs });
const [cpuPerRequest, cpuShares] = describeCpuSplit(
  cpuBefore.split,
  cpuAfter.split,
  routerThroughput.requests,
  {
    detail: "router",
    ...(routerThroughput.generatorCpuUs === undefined
      ? {}
      : { extraUs: { wrk: routerThroughput.generatorCpuUs / routerThroughput.requests } }),
  },
);

const ms = (value: number) => value.toFixed(3);
const row = (name: string, r: LoadResult) =>
  `| ${name} | ${r.requests} | ${r.errors} | ${r.rps.toFixed(0)} | ${ms(r.p50)} | ${ms(r.p99)} |`;

console.log(
  [
    "",
    `Machine: ${cpus().length} × ${cpus()[0]?.model ?? "cpu"}, Bun ${Bun.version}, load generator: ${generator}`,
    `Runtime settings (docker/Dockerfile's; the bench's environment overrides them, for both routers of an A/B): ${describeRuntimeEnv(runtimeEnv)}`,
    `Throughput phases via the router: ${pinning ? `${pinning.describe()}${generator === "wrk" ? `; wrk started on CPU ${pinning.others}` : ""}` : `not pinned: ${pinningWhy}`}`,
    "",
    "| run | requests | errors | req/s | p50 ms | p99 ms |",
    "|---|---|---|---|---|---|",
    row("emulator direct, c=1", directLatency),
    row("via router, c=1", routerLatency),
    row("emulator direct, stream, c=1", directStreamLatency),
    row("via router, stream, c=1", routerStreamLatency),
    row(`emulator direct, c=${concurrency}`, directThroughput),
    row(`via router, c=${concurrency}`, routerThroughput),
    row(`via router, stream, c=${concurrency}`, routerStreamThroughput),
    "",
    `Router added latency (c=1): p50 ${addedLatency(routerLatency.p50, directLatency.p50)}, p99 ${addedLatency(routerLatency.p99, directLatency.p99)}`,
    `Router added latency, streaming (c=1): p50 ${addedLatency(routerStreamLatency.p50, directStreamLatency.p50)}, p99 ${addedLatency(routerStreamLatency.p99, directStreamLatency.p99)}`,
    `Router RSS: ${rssMb(router.pid, "VmRSS").toFixed(0)} MB now, ${rssMb(router.pid, "VmHWM").toFixed(0)} MB peak`,
    `CPU per request (c=${concurrency}, non-streaming): ${cpuPerRequest}; router sleeps per request: ${((cpuAfter.wakeups - cpuBefore.wakeups) / routerThroughput.requests).toFixed(2)}`,
    `CPUs over that phase: ${cpuShares}`,
    ...(gc ? [gcLine(gc, routerThroughput.requests)] : []),
    `Router logs: ${router.logFile}, ${router.stderrFile}${other ? `; B: ${other.logFile}, ${other.stderrFile}` : ""}`,
  ].join("\n"),
);

if (other && comparison) await compare({ label: comparison.label, pid: other.pid });

router.proc.kill("SIGTERM");
other?.proc.kill("SIGTERM");
emulatorProc.kill("SIGTERM");
await Promise.all([router.proc.exited, other?.proc.exited]);
await Promise.all([pocketbase.stop(), redisDb.release()]);
process.exit(0);

/**
 * A (the router as configured) against B (one env var changed), in alternating short phases: each round
 * measures the emulator alone at c=1, then both routers at c=1, then both at full concurrency, A first in
 * even rounds and B first in odd ones. The ratios of the same round are what compare; the medians summarise.
 */
async function compare(b: { label: string; pid: number }): Promise<void> {
  say(`A/B: A as configured, B: ${b.label}; ${rounds} rounds of ${phaseMs} ms phases`);
  const lines = [
    "",
    `A/B (B: ${b.label}), ${rounds} rounds, ${phaseMs} ms phases`,
    "",
    `| round | added p50 c=1 A ms | B ms | c=${concurrency} A req/s | B req/s | B/A req/s |`,
    "|---|---|---|---|---|---|",
  ];
  const added = { router: [] as number[], other: [] as number[] };
  const rps = { router: [] as number[], other: [] as number[] };
  const ratios: number[] = [];
  // The peaks below are of the A/B rounds alone (A also ran the main phases before): writing 5 to
  // clear_refs resets a process's VmHWM to its RSS now.
  const reset = { a: resetPeakRss(router.pid), b: resetPeakRss(b.pid) };
  for (let round = 0; round < rounds; round++) {
    const order: Array<"router" | "other"> = round % 2 === 0 ? ["router", "other"] : ["other", "router"];
    const direct = await measure("direct", body, { concurrency: 1, durationMs: phaseMs });
    for (const target of order) {
      const result = await measure(target, body, { concurrency: 1, durationMs: phaseMs });
      added[target].push(result.p50 - direct.p50);
    }
    for (const target of order)
      rps[target].push((await measure(target, body, { concurrency, durationMs: phaseMs })).rps);
    const a = rps.router[round] ?? 0;
    const b = rps.other[round] ?? 0;
    ratios.push(b / a);
    lines.push(
      `| ${round + 1} | ${ms(added.router[round] ?? 0)} | ${ms(added.other[round] ?? 0)} | ${a.toFixed(0)} | ${b.toFixed(0)} | ${(b / a).toFixed(3)} |`,
    );
  }
  lines.push(
    `| median | ${ms(median(added.router))} | ${ms(median(added.other))} | ${median(rps.router).toFixed(0)} | ${median(rps.other).toFixed(0)} | ${median(ratios).toFixed(3)} |`,
    "",
    `RSS peak${reset.a && reset.b ? " over these rounds" : " (the kernel refused a reset: a peak since start, A's including the main phases)"}: A ${rssMb(router.pid, "VmHWM").toFixed(0)} MB${reset.a ? "" : " since start"}, B ${rssMb(b.pid, "VmHWM").toFixed(0)} MB${reset.b ? "" : " since start"}`,
  );
  console.log(lines.join("\n"));
}

function gcLine(gc: GcWindow, requests: number): string {
  const perRequest = (value: number) => value / Math.max(1, requests);
  return `JS heap (c=${concurrency}, non-streaming): ${perRequest(gc.allocatedKb).toFixed(1)} KB allocated per request, ${gc.collections} collections (${gc.fullCollections} full), GC cycles ${(perRequest(gc.cycleMs) * 1000).toFixed(1)} µs per request`;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? (sorted[mid] ?? 0) : ((sorted[mid - 1] ?? 0) + (sorted[mid] ?? 0)) / 2;
}

function parseAssignment(text: string): { name: string; value: string } {
  const at = text.indexOf("=");
  if (at <= 0) usageError(`--compare wants NAME=VALUE (an env var of the router), got "${text}"`);
  return { name: text.slice(0, at), value: text.slice(at + 1) };
}

/** A wrong option ends the run before anything starts: what was wrong, where the usage is, exit code 2. */
function usageError(message: string): never {
  console.error(`bench/router: ${message}; see bun bench/router/run.ts --help`);
  process.exit(2);
}

function positiveInteger(
  name: "duration-ms" | "latency-requests" | "concurrency" | "rounds" | "phase-ms",
): number {
  const text = values[name];
  const value = Number(text);
  if (!Number.isInteger(value) || value <= 0)
    usageError(`--${name} wants a whole number above 0, got "${text}"`);
  return value;
}

function oneOf<const T extends string>(name: "load" | "pin", allowed: readonly T[]): T {
  const text = values[name] ?? "";
  if (!(allowed as readonly string[]).includes(text))
    usageError(`--${name} wants ${allowed.join(", ")}, got "${text}"`);
  return text as T;
}

/** The bench's options; an unknown or malformed one ends the run with what was wrong and where the usage is. */
function parseArguments<const O extends NonNullable<ParseArgsConfig["options"]>>(options: O) {
  try {
    return parseArgs({ options });
  } catch (error) {
    return usageError((error as Error).message);
  }
}

/** Voluntary context switches of a process: how often it went to sleep waiting for I/O or a timer. */
function wakeups(pid: number): number {
  return statusNumber(pid, "voluntary_ctxt_switches");
}

/**
 * The pid of the Redis server, when it runs on this machine (it shares the cores being measured): the pid Redis
 * reports names a local redis-server (in a container, it is a pid of another namespace).
 */
async function redisServerPid(redis: typeof redisDb.redis): Promise<number | null> {
  const info = String(await redis.info("server"));
  const pid = Number(/process_id:(\d+)/.exec(info)?.[1]);
  if (!Number.isInteger(pid) || pid <= 0) return null;
  try {
    return readFileSync(`/proc/${pid}/comm`, "utf8").startsWith("redis-server") ? pid : null;
  } catch {
    return null;
  }
}

async function readFirstLine(stream: ReadableStream<Uint8Array>): Promise<string> {
  const reader = stream.getReader();
  let text = "";
  while (!text.includes("\n")) {
    const { value, done } = await reader.read();
    if (done) break;
    text += new TextDecoder().decode(value);
  }
  reader.releaseLock();
  return text.split("\n")[0] ?? "";
}

async function waitReady(url: string, logs: string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    try {
      if ((await fetch(url)).ok) return;
    } catch {}
    await Bun.sleep(100);
  }
  throw new Error(`${url} never became ready; see ${logs}`);
}
