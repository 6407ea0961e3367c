import { describe, expect, it } from "vitest";
import { toQueueDepth } from "../src/index.ts";

describe("toQueueDepth", () => {
  it("counts paused and prioritized jobs as waiting", () => {
    const counts = { waiting: 2, paused: 1, prioritized: 3, active: 4, delayed: 5, failed: 6, completed: 7 };
    expect(toQueueDepth(counts)).toEqual({ waiting: 6, active: 4, delayed: 5, failed: 6, completed: 7 });
  });

  it("reads a missing state as zero", () => {
    expect(toQueueDepth({})).toEqual({ waiting: 0, active: 0, delayed: 0, failed: 0, completed: 0 });
  });
});
