// Reading processes and threads from /proc (Linux), for the bench's pinning, CPU report and log cleanup.
import { readdirSync, writeFileSync } from "node:fs";
import { readTextFile } from "./text-file.ts";

/** The thread ids of a process; [] when it is gone. */
export function threadsOf(pid: number): number[] {
  try {
    return readdirSync(`/proc/${pid}/task`).map(Number);
  } catch {
    return [];
  }
}

/** Whether a process exists (as another user's too). */
export function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

/**
 * The name and user + system clock ticks of a `/proc/<pid>/stat` or `/proc/<pid>/task/<tid>/stat` line (the
 * name may hold spaces and parentheses: it ends at the last ")"); null for text that is not one (the
 * process or thread ended as it was read). A process's line counts its ended threads too.
 */
export function parseStatLine(line: string): { name: string; ticks: number } | null {
  const open = line.indexOf("(");
  const close = line.lastIndexOf(")");
  if (open < 0 || close < open) return null;
  const fields = line.slice(close + 2).split(" ");
  const ticks = Number(fields[11]) + Number(fields[12]);
  return Number.isFinite(ticks) ? { name: line.slice(open + 1, close), ticks } : null;
}

/** A process's (or, with `tid`, one thread's) stat line parsed; null when it is gone. */
export function readStat(pid: number, tid?: number): { name: string; ticks: number } | null {
  return parseStatLine(
    readTextFile(tid === undefined ? `/proc/${pid}/stat` : `/proc/${pid}/task/${tid}/stat`),
  );
}

/** A number field of `/proc/<pid>/status` (`VmRSS` in kB, `voluntary_ctxt_switches`, …); 0 when it is gone. */
export function statusNumber(pid: number, field: string): number {
  return Number(new RegExp(`^${field}:\\s+(\\d+)`, "m").exec(readTextFile(`/proc/${pid}/status`))?.[1] ?? 0);
}

/** A process's RSS now (`VmRSS`) or its peak (`VmHWM`) in MB; 0 when it is gone. */
export function rssMb(pid: number, field: "VmRSS" | "VmHWM"): number {
  return statusNumber(pid, field) / 1024;
}

/**
 * Sets a process's peak RSS (`VmHWM`) back to its RSS now (5 written to `/proc/<pid>/clear_refs`), so a later
 * peak covers only what ran after; false where the kernel refuses (another user's process, no such file).
 */
export function resetPeakRss(pid: number): boolean {
  try {
    writeFileSync(`/proc/${pid}/clear_refs`, "5");
    return true;
  } catch {
    return false;
  }
}
