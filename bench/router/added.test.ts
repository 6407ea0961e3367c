import { describe, expect, it } from "vitest";
import { addedLatency } from "./added.ts";

describe("addedLatency", () => {
  it("is the difference, in ms with three decimals", () => {
    expect(addedLatency(0.275, 0.075)).toBe("0.200 ms");
    expect(addedLatency(0.1, 0.1)).toBe("0.000 ms");
  });

  it("gives no negative figure when the direct run was the slower one", () => {
    expect(addedLatency(1.3, 174.24)).toMatch(/^n\/a \(direct 174\.240 ms > via the router 1\.300 ms/);
  });

  it("says when a phase gave no figure instead of blaming a stall", () => {
    expect(addedLatency(Number.NaN, 0.1)).toBe("n/a (no latency figure from the load generator)");
  });
});
