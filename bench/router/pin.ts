// CPU pinning for the throughput phases: the router's JavaScript thread gets a CPU to itself (the first this
// process may use, CPU 0 on a plain machine), and everything
// else the phase runs (the load generator, the emulator, Redis, the router's other threads: fetch's HTTP
// client, GC helpers) shares the other CPUs. Unpinned, on a 2-core machine, each wakeup of wrk, the emulator
// or Redis can preempt the router's one JS thread (about once per request), and the thread then resumes on
// cold caches; that is the scheduler's mixing of the bench's own processes, not the router's work. Pinning
// is how a load test keeps its load generator off the system under test, and how a router is deployed
// (a core per instance, the provider elsewhere). Linux with `taskset` (util-linux) only.
import { readdirSync } from "node:fs";
import { cpus } from "node:os";

export type PinMode = "auto" | "on" | "off";

export interface Pinning {
  /** The CPU list (taskset syntax) for everything but the router's JS thread, e.g. "1" or "1,2,3". */
  others: string;
  /** Pins `routerPid`'s main thread to the first usable CPU and every other thread of it and of the `sharing` processes to `others`. */
  pin(routerPid: number, sharing: Record<string, number | null>): void;
  /** Gives every pinned thread back the CPUs it had. */
  restore(): void;
  /** What was pinned where, for the report. */
  describe(): string;
}

function taskset(args: string[]): { ok: boolean; out: string } {
  const result = Bun.spawnSync(["taskset", ...args], { stdout: "pipe", stderr: "pipe" });
  return { ok: result.exitCode === 0, out: `${result.stdout}${result.stderr}`.trim() };
}

function threadsOf(pid: number): number[] {
  try {
    return readdirSync(`/proc/${pid}/task`).map(Number);
  } catch {
    return [];
  }
}

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

/** The CPUs this process may run on (a container's cpuset may leave some out), or null when unknown. */
function allowedCpus(): number[] | null {
  const own = taskset(["-c", "-p", String(process.pid)]);
  const list = /list:\s*(\S+)/.exec(own.out)?.[1];
  return own.ok && list ? parseCpuList(list) : null;
}

/** A pinning when `mode` asks for one and the machine allows it (≥ 2 CPUs, `taskset`), else null with why. */
export function createPinning(mode: PinMode): { pinning: Pinning | null; why: string } {
  if (mode === "off") return { pinning: null, why: "off (--pin off)" };
  const usable =
    process.platform === "linux" && Bun.which("taskset") ? (allowedCpus() ?? cpus().map((_, i) => i)) : [];
  const why =
    process.platform !== "linux"
      ? "not on Linux"
      : !Bun.which("taskset")
        ? "taskset not installed (util-linux)"
        : usable.length < 2
          ? "one CPU"
          : null;
  if (why) {
    if (mode === "on") throw new Error(`--pin on: cannot pin (${why})`);
    return { pinning: null, why: `off (${why})` };
  }
  const [first, ...rest] = usable as [number, ...number[]];
  const mine = String(first);
  const others = rest.join(",");
  /** Thread → the CPU list it had before (`taskset -p`'s "current affinity list: 0,1"). */
  const saved = new Map<number, string>();
  const pinned: string[] = [];
  const set = (tid: number, list: string): boolean => {
    if (!saved.has(tid)) {
      const current = taskset(["-c", "-p", String(tid)]);
      const before = /list:\s*(\S+)/.exec(current.out)?.[1];
      if (!current.ok || !before) return false;
      saved.set(tid, before);
    }
    return taskset(["-c", "-p", list, String(tid)]).ok;
  };
  return {
    why: `router JS thread on CPU ${mine}; load generator, emulator, Redis and the router's other threads on CPU ${others}`,
    pinning: {
      others,
      pin(routerPid, sharing) {
        pinned.length = 0;
        if (!set(routerPid, mine)) throw new Error(`could not pin the router (pid ${routerPid})`);
        for (const tid of threadsOf(routerPid)) if (tid !== routerPid) set(tid, others);
        for (const [name, pid] of Object.entries(sharing)) {
          if (pid === null) continue;
          const ok = threadsOf(pid).every((tid) => set(tid, others));
          pinned.push(`${name}${ok ? "" : " (not permitted: left where it was)"}`);
        }
      },
      restore() {
        for (const [tid, list] of saved) taskset(["-c", "-p", list, String(tid)]);
        saved.clear();
      },
      describe() {
        return `pinned: router JS thread → CPU ${mine}; wrk, the router's other threads, ${pinned.join(", ")} → CPU ${others}`;
      },
    },
  };
}
