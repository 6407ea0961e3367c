import { describe, expect, it } from "vitest";
import { type CpuSnapshot, describeCpuSplit, parseProcStat } from "./cpu-split.ts";

describe("parseProcStat", () => {
  it("reads each CPU's busy, interrupt, steal and idle ticks, not the machine's total line", () => {
    const text = [
      "cpu  48014 0 26237 1349266 858 0 6027 0 0 0",
      "cpu0 23246 0 11388 676339 85 0 2854 0 0 0",
      "cpu1 24768 0 14849 672927 773 10 3173 5 0 0",
      "intr 123 0 0",
    ].join("\n");
    expect(parseProcStat(text)).toEqual(
      new Map([
        ["cpu0", { busy: 23246 + 11388 + 2854, interrupts: 2854, steal: 0, idle: 676339 + 85 }],
        ["cpu1", { busy: 24768 + 14849 + 10 + 3173, interrupts: 10 + 3173, steal: 5, idle: 672927 + 773 }],
      ]),
    );
  });
});

describe("describeCpuSplit", () => {
  /** CPUs as [busy, interrupts, idle, steal] ticks; the router as its total and main thread ticks and its
   * other threads by id; the emulator as its total ticks. */
  const snapshot = (
    cpus: Array<[number, number, number, number?]>,
    router: [number, number, Record<number, [string, number]>],
    emulator: number,
  ): CpuSnapshot => ({
    cpus: new Map(
      cpus.map(([busy, interrupts, idle, steal = 0], i) => [`cpu${i}`, { busy, interrupts, idle, steal }]),
    ),
    processes: new Map([
      [
        "router",
        {
          total: router[0],
          main: router[1],
          threads: new Map(
            Object.entries(router[2]).map(([tid, [name, ticks]]) => [Number(tid), { name, ticks }]),
          ),
        },
      ],
      ["emulator", { total: emulator, main: emulator, threads: new Map() }],
    ]),
  });
  const idle = snapshot(
    [
      [0, 0, 0],
      [0, 0, 0],
    ],
    [0, 0, {}],
    0,
  );

  it("splits the detailed process by thread, counts what no watched process ran, and gives each CPU's shares", () => {
    const before = snapshot(
      [
        [100, 10, 50],
        [200, 20, 60],
      ],
      [1200, 1000, { 11: ["HTTP Client", 100], 12: ["HeapHelper", 50], 13: ["JITWorker", 50] }],
      300,
    );
    // 1,000 requests. The router: main +400 ticks, HTTP Client +100, a HeapHelper +10 (< 5 %), and a JIT
    // thread that took 20 ticks and ended: only the process total still has them.
    const after = snapshot(
      [
        [520, 40, 130],
        [650, 50, 110],
      ],
      [1730, 1400, { 11: ["HTTP Client", 200], 12: ["HeapHelper", 60] }],
      420,
    );
    const [perRequest, shares] = describeCpuSplit(before, after, 1_000, {
      detail: "router",
      extraUs: { wrk: 19.4 },
    });
    // CPUs busy 870 ticks = 8,700 µs per request; watched 530 + 120 ticks and wrk 19.4 µs: 2,180.6 µs else.
    expect(perRequest).toBe(
      "router 5300 µs (main thread 4000 µs, HTTP Client 1000 µs, other threads 300 µs), emulator 1200 µs, wrk 19 µs, everything else on the CPUs 2181 µs",
    );
    expect(shares).toBe(
      "cpu0 84 % busy (interrupts 6 %), 16 % idle; cpu1 90 % busy (interrupts 6 %), 10 % idle",
    );
  });

  it("says when the hypervisor took a CPU's time, and leaves out a process that could not be read before", () => {
    const before: CpuSnapshot = { ...idle, processes: new Map(idle.processes) };
    before.processes.delete("emulator");
    const after = snapshot(
      [
        [10, 0, 0, 10],
        [10, 0, 0],
      ],
      [10, 10, {}],
      5,
    );
    expect(describeCpuSplit(before, after, 100, { detail: "router" })).toEqual([
      "router 1000 µs (main thread 1000 µs), everything else on the CPUs 1000 µs",
      "cpu0 50 % busy (interrupts 0 %), 0 % idle, 50 % stolen by the hypervisor; cpu1 100 % busy (interrupts 0 %), 0 % idle",
    ]);
  });

  it("gives no per-request figures for a phase without requests", () => {
    expect(describeCpuSplit(idle, idle, 0, { detail: "router" })).toEqual([
      "n/a (no requests in the phase)",
      "n/a",
    ]);
  });
});
