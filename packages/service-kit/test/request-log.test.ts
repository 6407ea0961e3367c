import { Writable } from "node:stream";
import { describe, expect, it } from "vitest";
import { createLogger, type RequestLogFields, requestLogWriter } from "../src/logger.ts";

/** A pino destination that keeps every line written to it. */
function capture() {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk, _encoding, done) {
      lines.push(...String(chunk).split("\n").filter(Boolean));
      done();
    },
  });
  return { lines, stream };
}

const maskTime = (line: string) => line.replace(/"time":"[^"]+"/, '"time":"T"');

const cases: RequestLogFields[] = [
  {
    request_id: "req_0mx4y210rotkbrh74oad",
    tenant: "tnt_j8zyip1pu9e4xfd",
    method: "POST",
    path: "/v1/chat/completions",
    status: 200,
    latency_ms: 2.032,
  },
  // No tenant (an unauthenticated request): pino leaves the key out.
  {
    request_id: "req-test-1",
    tenant: undefined,
    method: "GET",
    path: "/nope",
    status: 404,
    latency_ms: 0.05,
  },
  // A path with characters JSON must escape.
  {
    request_id: "r1",
    tenant: "t",
    method: "GET",
    path: '/v1/models/a"b\\c\u0001é',
    status: 400,
    latency_ms: 12,
  },
];

describe("requestLogWriter", () => {
  it("writes the same line as logger.info(fields, 'request'), bindings included", async () => {
    const { lines, stream } = capture();
    const logger = createLogger("router", "info", stream).child({ replica: "r-1" });
    const write = requestLogWriter(logger);
    for (const fields of cases) {
      logger.info(fields, "request");
      write(fields);
    }
    await new Promise((resolve) => setImmediate(resolve));

    expect(lines).toHaveLength(cases.length * 2);
    for (let i = 0; i < lines.length; i += 2) {
      const [viaPino, fast] = [lines[i] ?? "", lines[i + 1] ?? ""];
      expect(maskTime(fast)).toBe(maskTime(viaPino));
      expect(JSON.parse(fast).time).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    }
    expect(JSON.parse(lines[1] ?? "{}")).toMatchObject({ service: "router", replica: "r-1", msg: "request" });
  });

  it("writes nothing when the logger's level is above info", async () => {
    const { lines, stream } = capture();
    const write = requestLogWriter(createLogger("router", "warn", stream));
    write(cases[0] as RequestLogFields);
    await new Promise((resolve) => setImmediate(resolve));
    expect(lines).toEqual([]);
  });
});
