import { describe, expect, it } from "vitest";
import { LogBuffer } from "../src/log-buffer.ts";

/** A sink that records what it took; `accept` decides how many bytes of each write it takes (or throws). */
function sink(accept: (bytes: Buffer) => number = (bytes) => bytes.length) {
  const taken: string[] = [];
  return {
    taken,
    text: () => taken.join(""),
    write: (bytes: Buffer) => {
      const n = accept(bytes);
      taken.push(bytes.subarray(0, n).toString());
      return n;
    },
  };
}

const eagain = () => Object.assign(new Error("EAGAIN: resource temporarily unavailable"), { code: "EAGAIN" });

describe("LogBuffer", () => {
  it("holds lines until a flush, then writes them in order with one write", () => {
    const out = sink();
    const buffer = new LogBuffer(out.write);
    buffer.write('{"n":1}\n');
    buffer.write('{"n":2}\n');
    expect(out.taken).toEqual([]);
    buffer.flush();
    expect(out.taken).toEqual(['{"n":1}\n{"n":2}\n']);
    buffer.flush();
    expect(out.taken).toHaveLength(1);
  });

  it("writes on its own once 64 KB are pending", () => {
    const out = sink();
    const buffer = new LogBuffer(out.write);
    const line = `${"x".repeat(1023)}\n`;
    for (let i = 0; i < 63; i++) buffer.write(line);
    expect(out.taken).toEqual([]);
    buffer.write(line);
    expect(out.taken).toHaveLength(1);
    expect(out.text()).toBe(line.repeat(64));
  });

  it("finishes a partial write and keeps what a full pipe refused for the next flush", () => {
    let calls = 0;
    const out = sink((bytes) => {
      calls++;
      if (calls === 1) return 3;
      if (calls === 2) throw eagain();
      return bytes.length;
    });
    const buffer = new LogBuffer(out.write);
    buffer.write("first line\n");
    buffer.flush();
    expect(out.text()).toBe("fir");
    buffer.write("second line\n");
    buffer.flush();
    expect(out.text()).toBe("first line\nsecond line\n");
  });

  it("drops lines beyond 16 MB while the reader stalls, then reports how many", () => {
    let stalled = true;
    const out = sink((bytes) => {
      if (stalled) throw eagain();
      return bytes.length;
    });
    const buffer = new LogBuffer(out.write);
    const line = `${"y".repeat(1024 * 1024 - 1)}\n`;
    for (let i = 0; i < 20; i++) buffer.write(line);
    stalled = false;
    buffer.flush();
    const lines = out.text().split("\n").filter(Boolean);
    expect(lines.filter((l) => l.startsWith("y"))).toHaveLength(16);
    const warning = JSON.parse(lines.at(-1) ?? "{}");
    expect(warning).toMatchObject({
      level: "warn",
      msg: "log lines dropped: stdout is not being read",
      dropped: 4,
    });
  });
});
