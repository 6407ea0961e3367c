import { describe, expect, it } from "vitest";
import { coreSiblings, parseCpuList, splitCpus } from "./pin.ts";

describe("parseCpuList", () => {
  it("reads taskset's lists: single CPUs, ranges and both", () => {
    expect(parseCpuList("0")).toEqual([0]);
    expect(parseCpuList("0-3")).toEqual([0, 1, 2, 3]);
    expect(parseCpuList("0,2,5-7")).toEqual([0, 2, 5, 6, 7]);
  });

  it("skips what is not a CPU number", () => {
    expect(parseCpuList("")).toEqual([]);
    expect(parseCpuList("a,1")).toEqual([1]);
  });
});

describe("splitCpus", () => {
  it("gives the router the first usable CPU and the rest to everything else", () => {
    expect(splitCpus([0, 1])).toEqual({ mine: "0", others: "1", sharesCore: false });
    expect(splitCpus([2, 3, 5])).toEqual({ mine: "2", others: "3,5", sharesCore: false });
  });

  it("keeps the others off the router CPU's hyperthread siblings while other cores are left", () => {
    // 4 CPUs on 2 cores, numbered as Linux often does: CPU n and n+2 share a core.
    const siblingsOf = (cpu: number) => [cpu % 2, (cpu % 2) + 2];
    expect(splitCpus([0, 1, 2, 3], siblingsOf)).toEqual({ mine: "0", others: "1,3", sharesCore: false });
    // 2 CPUs of one core: the sibling is all there is.
    expect(splitCpus([0, 1], () => [0, 1])).toEqual({ mine: "0", others: "1", sharesCore: true });
  });

  it("cannot split one CPU", () => {
    expect(splitCpus([4])).toBeNull();
    expect(splitCpus([])).toBeNull();
  });
});

describe("coreSiblings", () => {
  it("reads a CPU's siblings from sysfs, itself included", () => {
    expect(coreSiblings(0)).toContain(0);
    expect(coreSiblings(100_000)).toEqual([]);
  });
});
