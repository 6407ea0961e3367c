import { describe, expect, it } from "vitest";
import { gcWindow } from "./gc-log.ts";

// Lines as JavaScriptCore writes them with BUN_JSC_logGC=1 (Bun 1.4.5), trimmed to what the parser reads.
const collection = (kind: "Eden" | "Full", before: number, after: number, cycleMs: number) =>
  [
    "Requesting GC because bytes allocated this cycle: 8403364 exceed bytes allowed: 8388608 normal bytes: 8403364 oversized bytes: 0 last oversized: 0",
    `[GC<0x34f02db8118>: START M ${before}kb => ${kind}Collection, a=0kb hf=0.000 mu=0.600 v=0kb (C:0 M:0 P1:0) o=0 b=0 i#1:N<CsMsrShDMsm(0)SrbBcs> 87+0 p=1.295076ms (max 1.295076)...]`,
    "[GC<0x34f02db8118>: M a=123kb hf=0.037 mu=0.578 v=2610kb (C:435 M:0 P1:2176) o=2 b=94 0+94 p=0.651414ms (max 1.295076)...]",
    `[GC<0x34f02db8118>: M a=199kb hf=0.061 mu=0.564 v=5215kb (C:850 M:0 P1:4365) o=4 b=73 i#5:P<CsMsm(0)SrbBcsShMsrDCbDomoOWsJw>Pbc => ${after}kb, p=1.788037ms (max 1.788037), cycle ${cycleMs}ms END]`,
    "GC END!",
    "[GC<0x34f02db8118>: epilogue 0.073449ms]",
    "",
  ].join("\n");

describe("gcWindow", () => {
  const before = collection("Eden", 8108, 7164, 7.5);
  const inside = collection("Full", 12016, 6000, 10) + collection("Eden", 16000, 9000, 2.5);

  it("counts the heap's growth between collections, from the last one before the window", () => {
    const window = gcWindow(before + inside, before.length);
    // (12016 − 7164) + (16000 − 6000)
    expect(window).toEqual({ allocatedKb: 14852, collections: 2, fullCollections: 1, cycleMs: 12.5 });
  });

  it("leaves out collections logged before the window", () => {
    expect(gcWindow(before + inside, (before + inside).length)).toEqual({
      allocatedKb: 0,
      collections: 0,
      fullCollections: 0,
      cycleMs: 0,
    });
  });

  it("cannot count the growth before a window's first collection when none came before it", () => {
    expect(gcWindow(inside, 0).allocatedKb).toBe(10000);
  });

  it("reads nothing from output that is not a GC log", () => {
    expect(gcWindow("error: something\n", 0).collections).toBe(0);
  });
});
