import { describe, expect, it } from "vitest";
import { type CpuSnapshot, describeCpuSplit, parseProcStat, parseThreadStat } from "./cpu-split.ts";

describe("parseProcStat", () => {
  it("reads each CPU's busy, interrupt and idle ticks, not the machine's total line", () => {
    const text = [
      "cpu  48014 0 26237 1349266 858 0 6027 0 0 0",
      "cpu0 23246 0 11388 676339 85 0 2854 0 0 0",
      "cpu1 24768 0 14849 672927 773 10 3173 5 0 0",
      "intr 123 0 0",
    ].join("\n");
    expect(parseProcStat(text)).toEqual(
      new Map([
        ["cpu0", { busy: 23246 + 11388 + 2854, interrupts: 2854, idle: 676339 + 85 }],
        ["cpu1", { busy: 24768 + 14849 + 10 + 3173 + 5, interrupts: 10 + 3173, idle: 672927 + 773 }],
      ]),
    );
  });
});

describe("parseThreadStat", () => {
  it("takes the name between the first ( and the last ), spaces included, and user + system ticks", () => {
    const line =
      "31335 (HTTP Client) S 31293 31293 1 0 -1 4194368 1200 0 0 0 70 27 0 0 20 0 14 0 12345 6696016 39556";
    expect(parseThreadStat(line)).toEqual({ name: "HTTP Client", ticks: 97 });
    expect(parseThreadStat("1 (a) b) S 0 0 0 0 0 0 0 0 0 0 3 4")).toEqual({ name: "a) b", ticks: 7 });
  });

  it("gives null for a line that is not a stat line (the thread ended as it was read)", () => {
    expect(parseThreadStat("")).toBeNull();
  });
});

describe("describeCpuSplit", () => {
  const snapshot = (
    cpu0: [number, number, number],
    cpu1: [number, number, number],
    router: { main: number; threads: Record<string, number> },
    emulator: number,
  ): CpuSnapshot => ({
    cpus: new Map([
      ["cpu0", { busy: cpu0[0], interrupts: cpu0[1], idle: cpu0[2] }],
      ["cpu1", { busy: cpu1[0], interrupts: cpu1[1], idle: cpu1[2] }],
    ]),
    processes: new Map([
      ["router", { main: router.main, threads: new Map(Object.entries(router.threads)) }],
      ["emulator", { main: emulator, threads: new Map() }],
    ]),
  });

  it("splits the detailed process by thread and gives every CPU's busy and idle share of the phase", () => {
    const before = snapshot(
      [100, 10, 50],
      [200, 20, 60],
      { main: 1000, threads: { "HTTP Client": 100 } },
      300,
    );
    // 1,000 requests; router main +400 ticks, HTTP Client +100, a GC helper +10 (< 5 %: "other threads").
    const after = snapshot(
      [520, 40, 130],
      [650, 50, 110],
      { main: 1400, threads: { "HTTP Client": 200, HeapHelper: 10 } },
      420,
    );
    const [perRequest, shares] = describeCpuSplit(before, after, 1_000, {
      detail: "router",
      extraUs: { wrk: 19.4 },
    });
    expect(perRequest).toBe(
      "router 5100 µs (main thread 4000 µs, HTTP Client 1000 µs, other threads 100 µs), emulator 1200 µs, wrk 19 µs, kernel interrupts 600 µs",
    );
    expect(shares).toBe(
      "cpu0 84 % busy (interrupts 6 %), 16 % idle; cpu1 90 % busy (interrupts 6 %), 10 % idle",
    );
  });

  it("leaves out a process that could not be read before the phase", () => {
    const before = snapshot([0, 0, 0], [0, 0, 0], { main: 0, threads: {} }, 0);
    before.processes.delete("emulator");
    const after = snapshot([10, 0, 0], [10, 0, 0], { main: 10, threads: {} }, 5);
    expect(describeCpuSplit(before, after, 100, { detail: "router" })[0]).toBe(
      "router 1000 µs (main thread 1000 µs), kernel interrupts 0 µs",
    );
  });
});
