import { readFileSync } from "node:fs";

/** A file's text, or "" when it cannot be read (not written yet, or gone). */
export function readTextFile(path: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return "";
  }
}
