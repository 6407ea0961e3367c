import { describe, expect, it } from "vitest";
import { parseCpuList } from "./pin.ts";

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
