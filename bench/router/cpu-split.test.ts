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
  type Cpu = { busy: number; interrupts: number; steal?: number; idle: number };
  const snapshot = (
    cpus: [Cpu, Cpu],
    router: { total: number; main: number; threads: Array<[number, string, number]> },
    emulator: number,
  ): CpuSnapshot => ({
    cpus: new Map(cpus.map((cpu, i) => [`cpu${i}`, { steal: 0, ...cpu }])),
    processes: new Map([
      [
        "router",
        {
          total: router.total,
          main: router.main,
          threads: new Map(router.threads.map(([tid, name, ticks]) => [tid, { name, ticks }])),
        },
      ],
      ["emulator", { total: emulator, main: emulator, threads: new Map() }],
    ]),
  });

  it("splits the detailed process by thread, counts what no watched process ran, and gives each CPU's shares", () => {
    const before = snapshot(
      [
        { busy: 100, interrupts: 10, idle: 50 },
        { busy: 200, interrupts: 20, idle: 60 },
      ],
      {
        total: 1200,
        main: 1000,
        threads: [
          [11, "HTTP Client", 100],
          [12, "HeapHelper", 50],
          [13, "JITWorker", 50],
        ],
      },
      300,
    );
    // 1,000 requests. The router: main +400 ticks, HTTP Client +100, a HeapHelper +10 (< 5 %), and a JIT
    // thread that took 20 ticks and ended: only the process total still has them.
    const after = snapshot(
      [
        { busy: 520, interrupts: 40, idle: 130 },
        { busy: 650, interrupts: 50, idle: 110 },
      ],
      {
        total: 1730,
        main: 1400,
        threads: [
          [11, "HTTP Client", 200],
          [12, "HeapHelper", 60],
        ],
      },
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
    const before = snapshot(
      [
        { busy: 0, interrupts: 0, idle: 0 },
        { busy: 0, interrupts: 0, idle: 0 },
      ],
      { total: 0, main: 0, threads: [] },
      0,
    );
    before.processes.delete("emulator");
    const after = snapshot(
      [
        { busy: 10, interrupts: 0, steal: 10, idle: 0 },
        { busy: 10, interrupts: 0, idle: 0 },
      ],
      { total: 10, main: 10, threads: [] },
      5,
    );
    expect(describeCpuSplit(before, after, 100, { detail: "router" })).toEqual([
      "router 1000 µs (main thread 1000 µs), everything else on the CPUs 1000 µs",
      "cpu0 50 % busy (interrupts 0 %), 0 % idle, 50 % stolen by the hypervisor; cpu1 100 % busy (interrupts 0 %), 0 % idle",
    ]);
  });

  it("gives no per-request figures for a phase without requests", () => {
    const none = snapshot(
      [
        { busy: 0, interrupts: 0, idle: 0 },
        { busy: 0, interrupts: 0, idle: 0 },
      ],
      { total: 0, main: 0, threads: [] },
      0,
    );
    expect(describeCpuSplit(none, none, 0, { detail: "router" })).toEqual([
      "n/a (no requests in the phase)",
      "n/a",
    ]);
  });
});
