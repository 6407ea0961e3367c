// CPU pinning for the router's throughput phases: its JavaScript thread gets a CPU of its own, and what
// else the phase runs shares the other CPUs, so the bench's own processes stop preempting it (README →
// Benchmarks → Pinning). Linux with `taskset` (util-linux) only.
import { spawnSync } from "node:child_process";
import { closeSync, openSync, unlinkSync, writeSync } from "node:fs";
import { isRunning, readStat, threadsOf } from "./proc.ts";
import { readTextFile } from "./text-file.ts";

export type PinMode = "auto" | "on" | "off";

export interface Pinning {
  /** The CPU list (taskset syntax) for everything but the router's JS thread, e.g. "1" or "1,2,3". */
  others: string;
  /**
   * Pins `routerPid`'s main thread to its own CPU and every other thread of it, and of the `sharing`
   * processes (by name, for the report), to `others`. Threads the router starts during the phase are moved
   * off its CPU as they appear.
   */
  pin(routerPid: number, sharing: Record<string, number | null>): void;
  /** Gives every pinned process, threads started since included, back the CPUs it had. */
  restore(): void;
  /** What was pinned where, for the report. */
  describe(): string;
}

const LOCK = "/tmp/cloudfreedom-bench-pin.lock";
/** How often a pinned phase looks for threads the router started since (they inherit its JS thread's CPU). */
const RESCAN_MS = 250;

function taskset(args: string[]): { ok: boolean; out: string } {
  const result = spawnSync("taskset", args, { encoding: "utf8" });
  return { ok: result.status === 0, out: `${result.stdout ?? ""}${result.stderr ?? ""}`.trim() };
}

/** Whether a thread of a process still exists. */
const alive = (pid: number, tid: number): boolean => readStat(pid, tid) !== null;

/** CPU numbers of a taskset list ("0-3", "0,2,5-7"). */
export function parseCpuList(list: string): number[] {
  const cpus: number[] = [];
  for (const part of list.split(",")) {
    const range = /^(\d+)(?:-(\d+))?$/.exec(part.trim());
    if (!range) continue;
    const from = Number(range[1]);
    for (let cpu = from; cpu <= Number(range[2] ?? from); cpu++) cpus.push(cpu);
  }
  return cpus;
}

/** The CPUs that share a physical core with `cpu` (its hyperthread siblings, itself included), from sysfs. */
export function coreSiblings(cpu: number): number[] {
  return parseCpuList(readTextFile(`/sys/devices/system/cpu/cpu${cpu}/topology/thread_siblings_list`).trim());
}

/**
 * The router's CPU and the others' list from the CPUs this process may use; null with fewer than two. The
 * others leave out the router CPU's hyperthread siblings (`siblingsOf`), which would share its core's
 * execution units, unless nothing else is left (`sharesCore` then says so).
 */
export function splitCpus(
  usable: readonly number[],
  siblingsOf: (cpu: number) => readonly number[] = () => [],
): { mine: string; others: string; sharesCore: boolean } | null {
  const [first, ...rest] = usable;
  if (first === undefined || rest.length === 0) return null;
  const siblings = new Set(siblingsOf(first));
  const apart = rest.filter((cpu) => !siblings.has(cpu));
  const others = apart.length > 0 ? apart : rest;
  return { mine: String(first), others: others.join(","), sharesCore: apart.length === 0 };
}

function affinityOf(pid: number): string | null {
  const current = taskset(["-c", "-p", String(pid)]);
  return current.ok ? (/list:\s*(\S+)/.exec(current.out)?.[1] ?? null) : null;
}

/**
 * One bench pins at a time: two would each record the other's pinned CPUs as a process's own and give them
 * back, leaving the machine's Redis on one CPU. The lock names its holder; a dead holder's lock is taken over.
 */
function takeLock(): boolean {
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(LOCK, "wx");
      writeSync(fd, String(process.pid));
      closeSync(fd);
      return true;
    } catch {
      const holder = Number(readTextFile(LOCK).trim());
      if (Number.isInteger(holder) && holder > 0 && isRunning(holder)) return false;
      try {
        unlinkSync(LOCK);
      } catch {}
    }
  }
  return false;
}

/** A pinning when `mode` asks for one and the machine allows it (2+ usable CPUs, `taskset`), else null with why. */
export function createPinning(mode: PinMode): { pinning: Pinning | null; why: string; release(): void } {
  const none = (why: string) => {
    if (mode === "on") throw new Error(`--pin on: cannot pin (${why})`);
    return { pinning: null, why, release: () => {} };
  };
  if (mode === "off") return { pinning: null, why: "--pin off", release: () => {} };
  if (process.platform !== "linux") return none("not on Linux");
  const own = affinityOf(process.pid);
  if (own === null) return none("taskset not installed (util-linux)");
  const cpus = splitCpus(parseCpuList(own), coreSiblings);
  if (!cpus) return none("one CPU");
  if (!takeLock()) return none(`another bench is pinning, see ${LOCK}`);
  const { mine, others, sharesCore } = cpus;
  /** Process → the CPU list it had before its first pin: given back to all its threads, new ones too. */
  const saved = new Map<number, string>();
  const pinned: string[] = [];
  let rescan: ReturnType<typeof setInterval> | undefined;
  const save = (pid: number): boolean => {
    if (saved.has(pid)) return true;
    const before = affinityOf(pid);
    if (before === null) return false;
    saved.set(pid, before);
    return true;
  };
  /** True when the thread took the list or is gone (it may end between the listing and here). */
  const setAffinity = (pid: number, tid: number, list: string): boolean =>
    taskset(["-c", "-p", list, String(tid)]).ok || !alive(pid, tid);
  const moveOthers = (routerPid: number) => {
    for (const tid of threadsOf(routerPid)) if (tid !== routerPid) setAffinity(routerPid, tid, others);
  };
  return {
    why: `router JS thread on CPU ${mine}, the rest of the phase on CPU ${others}${sharesCore ? ` (hyperthread siblings of CPU ${mine}: they share its core)` : ""}`,
    release: () => {
      if (readTextFile(LOCK).trim() === String(process.pid)) unlinkSync(LOCK);
    },
    pinning: {
      others,
      pin(routerPid, sharing) {
        pinned.length = 0;
        if (!save(routerPid) || !setAffinity(routerPid, routerPid, mine))
          throw new Error(`could not pin the router (pid ${routerPid})`);
        moveOthers(routerPid);
        rescan = setInterval(() => moveOthers(routerPid), RESCAN_MS);
        for (const [name, pid] of Object.entries(sharing)) {
          if (pid === null) continue;
          const threads = threadsOf(pid);
          const moved = save(pid) ? threads.filter((tid) => setAffinity(pid, tid, others)).length : 0;
          pinned.push(
            moved === threads.length
              ? name
              : `${name} (${moved === 0 ? "not permitted: left where it was" : "partly"})`,
          );
        }
      },
      restore() {
        clearInterval(rescan);
        rescan = undefined;
        for (const [pid, list] of saved) taskset(["-a", "-c", "-p", list, String(pid)]);
        saved.clear();
      },
      describe() {
        return `pinned: router JS thread → CPU ${mine}; the router's other threads, ${pinned.join(", ")} → CPU ${others}`;
      },
    },
  };
}
