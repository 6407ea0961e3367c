import { readStat, threadsOf } from "./proc.ts";
import { readTextFile } from "./text-file.ts";

/**
 * Where the machine's CPU time went during a phase: each CPU's busy, interrupt, steal and idle time (from
 * /proc/stat) and each watched process's (from /proc/<pid>/stat, which counts its ended threads too), the
 * detailed one by thread. On 2 cores the router shares with wrk, the emulator and Redis, the router's own
 * figure does not say what bounds a run: a CPU at 100 %, or both with idle time while requests wait on each
 * other. The kernel counts in ticks of 10 ms (USER_HZ 100), and without IRQ time accounting (the usual
 * kernel build) an interrupt's tick is charged to the process it interrupted as well as to the CPU's
 * interrupt time: the interrupt share is part of the processes' figures, not added to them.
 */

/** Clock ticks per CPU, as /proc/stat counts them. */
export interface CpuTicks {
  /** user, nice, system, irq and softirq. */
  busy: number;
  /** Of busy: hard and soft interrupts (on loopback, a socket write runs the receiver's network stack here). */
  interrupts: number;
  /** Time the hypervisor ran something else on this virtual CPU: neither ours nor idle. */
  steal: number;
  idle: number;
}

export interface ProcessTicks {
  /** The whole process, ended threads included. */
  total: number;
  main: number;
  /** Its other threads alive at the snapshot, by thread id. */
  threads: Map<number, { name: string; ticks: number }>;
}

export interface CpuSnapshot {
  cpus: Map<string, CpuTicks>;
  /** By the watched process's label; a process that cannot be read is missing. */
  processes: Map<string, ProcessTicks>;
}

/** Per CPU (`cpu0`, `cpu1`, …; not the `cpu` total) from /proc/stat's text. */
export function parseProcStat(text: string): Map<string, CpuTicks> {
  const cpus = new Map<string, CpuTicks>();
  for (const line of text.split("\n")) {
    const match = /^(cpu\d+)\s+(.*)$/.exec(line);
    if (!match?.[1] || match[2] === undefined) continue;
    // user nice system idle iowait irq softirq steal (guest time is already counted in user).
    const [user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0, steal = 0] = match[2]
      .trim()
      .split(/\s+/)
      .map(Number);
    cpus.set(match[1], {
      busy: user + nice + system + irq + softirq,
      interrupts: irq + softirq,
      steal,
      idle: idle + iowait,
    });
  }
  return cpus;
}

function processTicks(pid: number): ProcessTicks | null {
  const total = readStat(pid)?.ticks;
  const main = readStat(pid, pid)?.ticks;
  if (total === undefined || main === undefined) return null;
  const threads = new Map<number, { name: string; ticks: number }>();
  for (const tid of threadsOf(pid)) {
    if (tid === pid) continue;
    const stat = readStat(pid, tid);
    if (stat) threads.set(tid, stat);
  }
  return { total, main, threads };
}

/** The CPUs and the watched processes now (labels → pids; a null pid is skipped). */
export function cpuSnapshot(watched: Record<string, number | null>): CpuSnapshot {
  const processes = new Map<string, ProcessTicks>();
  for (const [label, pid] of Object.entries(watched)) {
    if (pid === null) continue;
    const ticks = processTicks(pid);
    if (ticks) processes.set(label, ticks);
  }
  return { cpus: parseProcStat(readTextFile("/proc/stat")), processes };
}

/** Microseconds per request, from ticks of 10 ms. */
const TICK_US = 10_000;

/**
 * Two report lines for a phase of `requests` requests between two snapshots: the CPU per request of each
 * watched process (the `detail` one split into its main thread, each other thread that took ≥ 5 % of it, and
 * the rest, ended threads included), of `extraUs` (processes measured otherwise: wrk's own CPU time) and of
 * everything else the CPUs ran; then each CPU's busy, interrupt, steal and idle share.
 */
export function describeCpuSplit(
  before: CpuSnapshot,
  after: CpuSnapshot,
  requests: number,
  options: { detail: string; extraUs?: Record<string, number> },
): [string, string] {
  if (requests <= 0) return ["n/a (no requests in the phase)", "n/a"];
  const us = (ticks: number) => `${Math.round((ticks * TICK_US) / requests)} µs`;
  const parts: string[] = [];
  let watchedTicks = 0;
  for (const [label, end] of after.processes) {
    const start = before.processes.get(label);
    if (!start) continue;
    const total = end.total - start.total;
    watchedTicks += total;
    if (label !== options.detail) {
      parts.push(`${label} ${us(total)}`);
      continue;
    }
    const main = end.main - start.main;
    const byName = new Map<string, number>();
    for (const [tid, thread] of end.threads) {
      const was = start.threads.get(tid);
      if (was) byName.set(thread.name, (byName.get(thread.name) ?? 0) + thread.ticks - was.ticks);
    }
    const named = [...byName]
      .filter(([, ticks]) => ticks > 0 && ticks >= total * 0.05)
      .sort((a, b) => b[1] - a[1]);
    const rest = total - main - named.reduce((sum, [, ticks]) => sum + ticks, 0);
    const inner = [
      `main thread ${us(main)}`,
      ...named.map(([name, ticks]) => `${name} ${us(ticks)}`),
      ...(rest > 0 ? [`other threads ${us(rest)}`] : []),
    ];
    parts.push(`${label} ${us(total)} (${inner.join(", ")})`);
  }
  let extra = 0;
  for (const [label, value] of Object.entries(options.extraUs ?? {})) {
    extra += value;
    parts.push(`${label} ${Math.round(value)} µs`);
  }
  let busyTicks = 0;
  const shares: string[] = [];
  for (const [cpu, end] of after.cpus) {
    const start = before.cpus.get(cpu);
    if (!start) continue;
    const busy = end.busy - start.busy;
    const steal = end.steal - start.steal;
    const idle = end.idle - start.idle;
    busyTicks += busy;
    const all = busy + steal + idle;
    if (all <= 0) continue;
    const pct = (ticks: number) => `${Math.round((100 * ticks) / all)} %`;
    shares.push(
      `${cpu} ${pct(busy)} busy (interrupts ${pct(end.interrupts - start.interrupts)}), ${pct(idle)} idle${steal > 0 ? `, ${pct(steal)} stolen by the hypervisor` : ""}`,
    );
  }
  const elsewhere = (busyTicks - watchedTicks) * TICK_US - extra * requests;
  parts.push(`everything else on the CPUs ${Math.max(0, Math.round(elsewhere / requests))} µs`);
  return [parts.join(", "), shares.join("; ")];
}
