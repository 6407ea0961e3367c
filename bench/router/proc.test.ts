import { spawn, spawnSync } from "node:child_process";
import { once } from "node:events";
import { describe, expect, it } from "vitest";
import { isRunning, parseStatLine, readStat, resetPeakRss, rssMb, threadsOf } from "./proc.ts";

/** A pid that was just used and has ended (reused by another process within the test: not in practice). */
function endedPid(): number {
  const child = spawnSync("sh", ["-c", "echo $$"], { encoding: "utf8" });
  return Number(child.stdout.trim());
}

describe("parseStatLine", () => {
  it("takes the name between the first ( and the last ), spaces included, and user + system ticks", () => {
    const line =
      "31335 (HTTP Client) S 31293 31293 1 0 -1 4194368 1200 0 0 0 70 27 0 0 20 0 14 0 12345 6696016 39556";
    expect(parseStatLine(line)).toEqual({ name: "HTTP Client", ticks: 97 });
    expect(parseStatLine("1 (a) b) S 0 0 0 0 0 0 0 0 0 0 3 4")).toEqual({ name: "a) b", ticks: 7 });
  });

  it("gives null for what is not a stat line (the thread ended as it was read)", () => {
    expect(parseStatLine("")).toBeNull();
    expect(parseStatLine("1 (x) S 0 0")).toBeNull();
  });
});

describe("this process in /proc", () => {
  it.runIf(process.platform === "linux")("is running, has its main thread and a stat line", () => {
    expect(isRunning(process.pid)).toBe(true);
    expect(threadsOf(process.pid)).toContain(process.pid);
    expect(readStat(process.pid)?.ticks).toBeGreaterThanOrEqual(0);
  });

  it.runIf(process.platform === "linux")("an ended process is not running and has no threads or stat", () => {
    const pid = endedPid();
    expect(isRunning(pid)).toBe(false);
    expect(threadsOf(pid)).toEqual([]);
    expect(readStat(pid)).toBeNull();
  });
});

describe("peak RSS", () => {
  it.runIf(process.platform === "linux")(
    "reads a process's RSS and peak, and resets the peak to the RSS now",
    async () => {
      // A child that touches 64 MB, frees it (a large block goes back to the system at once) and waits.
      const child = spawn(
        process.execPath,
        [
          "--expose-gc",
          "-e",
          "let b = Buffer.alloc(64 << 20, 1); b = null; globalThis.gc(); console.log('freed'); setInterval(() => {}, 1000);",
        ],
        { stdio: ["ignore", "pipe", "inherit"] },
      );
      try {
        await once(child.stdout, "data");
        const pid = child.pid as number;
        expect(rssMb(pid, "VmRSS")).toBeGreaterThan(0);
        expect(rssMb(pid, "VmHWM") - rssMb(pid, "VmRSS")).toBeGreaterThan(48);
        expect(resetPeakRss(pid)).toBe(true);
        expect(rssMb(pid, "VmHWM") - rssMb(pid, "VmRSS")).toBeLessThan(8);
      } finally {
        child.kill();
      }
    },
  );

  it("gives 0 and false for a process that has ended", () => {
    const pid = endedPid();
    expect(rssMb(pid, "VmHWM")).toBe(0);
    expect(resetPeakRss(pid)).toBe(false);
  });
});
