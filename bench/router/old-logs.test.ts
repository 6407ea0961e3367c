import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { endedRunLogs, removeEndedRunLogs } from "./old-logs.ts";

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

describe("removeEndedRunLogs", () => {
  let dir = "";
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it.runIf(process.platform === "linux")("removes an ended run's logs and keeps a running one's", () => {
    dir = mkdtempSync(join(tmpdir(), "old-logs-"));
    const ended = Number(spawnSync("sh", ["-c", "echo $$"], { encoding: "utf8" }).stdout.trim());
    const mine = `cloudfreedom-bench-router-${process.pid}.4000.log`;
    writeFileSync(join(dir, mine), "kept");
    writeFileSync(join(dir, `cloudfreedom-bench-router-${ended}.4001.log`), "12345");
    writeFileSync(join(dir, `cloudfreedom-bench-router-${ended}.4001.stderr`), "678");
    expect(removeEndedRunLogs(dir)).toEqual({ files: 2, bytes: 8 });
    expect(readdirSync(dir)).toEqual([mine]);
  });

  it("removes nothing from a directory that does not exist", () => {
    dir = join(tmpdir(), "old-logs-missing-dir");
    expect(existsSync(dir)).toBe(false);
    expect(removeEndedRunLogs(dir)).toEqual({ files: 0, bytes: 0 });
  });
});
