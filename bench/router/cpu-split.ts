import { readdirSync } from "node:fs";
import { readTextFile } from "./text-file.ts";

/**
 * Where the machine's CPU time went during a phase: each CPU's busy, kernel-interrupt and idle time (from
 * /proc/stat) and each watched process's threads (from /proc/<pid>/task). On 2 cores the router shares with
 * wrk, the emulator and Redis, the router's own figure does not say what bounds a run: a CPU at 100 %, or
 * both with idle time while requests wait on each other.
 */

/** Clock ticks per CPU, as /proc/stat counts them. */
export interface CpuTicks {
  busy: number;
  /** Of busy: hard and soft interrupts (on loopback, a socket write delivers the packet here). */
  interrupts: number;
  idle: number;
}

/** Ticks of one process's threads by thread name ("bun.exe", "HTTP Client", "HeapHelper", …). */
export type ThreadTicks = Map<string, number>;

export interface CpuSnapshot {
  cpus: Map<string, CpuTicks>;
  /** By the watched process's label; a process that cannot be read is missing. */
  processes: Map<string, { main: number; threads: ThreadTicks }>;
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
      busy: user + nice + system + irq + softirq + steal,
      interrupts: irq + softirq,
      idle: idle + iowait,
    });
  }
  return cpus;
}

/** A thread's name and user + system ticks from its /proc/<pid>/task/<tid>/stat line (the name may hold spaces). */
export function parseThreadStat(line: string): { name: string; ticks: number } | null {
  const open = line.indexOf("(");
  const close = line.lastIndexOf(")");
  if (open < 0 || close < open) return null;
  const fields = line.slice(close + 2).split(" ");
  const ticks = Number(fields[11]) + Number(fields[12]);
  return Number.isFinite(ticks) ? { name: line.slice(open + 1, close), ticks } : null;
}

function processTicks(pid: number): { main: number; threads: ThreadTicks } | null {
  let tids: string[];
  try {
    tids = readdirSync(`/proc/${pid}/task`);
  } catch {
    return null;
  }
  const threads: ThreadTicks = new Map();
  let main = 0;
  for (const tid of tids) {
    const stat = parseThreadStat(readTextFile(`/proc/${pid}/task/${tid}/stat`));
    if (!stat) continue;
    if (Number(tid) === pid) main = stat.ticks;
    else threads.set(stat.name, (threads.get(stat.name) ?? 0) + stat.ticks);
  }
  return { main, threads };
}

/** The CPUs and the watched processes now (labels → pids; a null pid is skipped). */
export function cpuSnapshot(watched: Record<string, number | null>): CpuSnapshot {
  const processes = new Map<string, { main: number; threads: ThreadTicks }>();
  for (const [label, pid] of Object.entries(watched)) {
    if (pid === null) continue;
    const ticks = processTicks(pid);
    if (ticks) processes.set(label, ticks);
  }
  return { cpus: parseProcStat(readTextFile("/proc/stat")), processes };
}

/** Microseconds of CPU per request, from ticks of 10 ms. */
const perRequest = (ticks: number, requests: number): number => (ticks * 10_000) / requests;

/**
 * Two report lines for a phase of `requests` requests between two snapshots: CPU per request of each watched
 * process (the router's main thread and its busiest other threads apart) plus `extraUs` (processes measured
 * otherwise: wrk's own CPU time) and the CPUs' interrupts; then each CPU's busy and idle share.
 */
export function describeCpuSplit(
  before: CpuSnapshot,
  after: CpuSnapshot,
  requests: number,
  options: { detail: string; extraUs?: Record<string, number> },
): string[] {
  const us = (ticks: number) => `${perRequest(ticks, requests).toFixed(0)} µs`;
  const parts: string[] = [];
  for (const [label, end] of after.processes) {
    const start = before.processes.get(label);
    if (!start) continue;
    const threads = [...end.threads].map(
      ([name, ticks]) => [name, ticks - (start.threads.get(name) ?? 0)] as const,
    );
    const main = end.main - start.main;
    const total = main + threads.reduce((sum, [, ticks]) => sum + ticks, 0);
    if (label !== options.detail) {
      parts.push(`${label} ${us(total)}`);
      continue;
    }
    // The detailed process: its main thread and each other thread that took ≥ 5 % of its time.
    const named = threads.filter(([, ticks]) => ticks >= total * 0.05).sort((a, b) => b[1] - a[1]);
    const rest = total - main - named.reduce((sum, [, ticks]) => sum + ticks, 0);
    const inner = [
      `main thread ${us(main)}`,
      ...named.map(([name, ticks]) => `${name} ${us(ticks)}`),
      ...(rest > 0 ? [`other threads ${us(rest)}`] : []),
    ];
    parts.push(`${label} ${us(total)} (${inner.join(", ")})`);
  }
  for (const [label, value] of Object.entries(options.extraUs ?? {}))
    parts.push(`${label} ${value.toFixed(0)} µs`);
  let interrupts = 0;
  const shares: string[] = [];
  for (const [cpu, end] of after.cpus) {
    const start = before.cpus.get(cpu);
    if (!start) continue;
    const busy = end.busy - start.busy;
    const idle = end.idle - start.idle;
    const irq = end.interrupts - start.interrupts;
    interrupts += irq;
    const all = busy + idle;
    if (all <= 0) continue;
    const pct = (ticks: number) => `${Math.round((100 * ticks) / all)} %`;
    shares.push(`${cpu} ${pct(busy)} busy (interrupts ${pct(irq)}), ${pct(idle)} idle`);
  }
  parts.push(`kernel interrupts ${us(interrupts)}`);
  return [parts.join(", "), shares.join("; ")];
}
