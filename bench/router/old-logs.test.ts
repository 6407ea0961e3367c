import { describe, expect, it } from "vitest";
import { endedRunLogs } from "./old-logs.ts";

describe("endedRunLogs", () => {
  const names = [
    "cloudfreedom-bench-router-100.4000.log",
    "cloudfreedom-bench-router-100.4000.stderr",
    "cloudfreedom-bench-router-200.4001.log",
    "cloudfreedom-bench-router-200.4001.stderr",
    "cloudfreedom-bench-router-200.log",
    "cloudfreedom-bench-wrk-100.lua",
    "cloudfreedom-bench-router-300.4002.log.bak",
  ];

  it("names the logs of runs whose bench is gone, and keeps a running bench's", () => {
    expect(endedRunLogs(names, (pid) => pid === 200)).toEqual([
      "cloudfreedom-bench-router-100.4000.log",
      "cloudfreedom-bench-router-100.4000.stderr",
    ]);
  });

  it("leaves files that are not a router log of a run", () => {
    expect(endedRunLogs(names, () => false)).toEqual([
      "cloudfreedom-bench-router-100.4000.log",
      "cloudfreedom-bench-router-100.4000.stderr",
      "cloudfreedom-bench-router-200.4001.log",
      "cloudfreedom-bench-router-200.4001.stderr",
    ]);
  });
});
