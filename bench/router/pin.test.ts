import { describe, expect, it } from "vitest";
import { parseCpuList, splitCpus } from "./pin.ts";

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
    expect(splitCpus([0, 1])).toEqual({ mine: "0", others: "1" });
    expect(splitCpus([2, 3, 5])).toEqual({ mine: "2", others: "3,5" });
  });

  it("cannot split one CPU", () => {
    expect(splitCpus([4])).toBeNull();
    expect(splitCpus([])).toBeNull();
  });
});
