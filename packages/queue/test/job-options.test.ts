import { describe, expect, it } from "vitest";
import { buildJobOptions, DEFAULT_JOB_OPTIONS, DEFAULT_QUEUE_PREFIX } from "../src/index.ts";

describe("job options", () => {
  it("retries with exponential backoff and keeps bounded history of completed and failed jobs", () => {
    expect(buildJobOptions()).toEqual({
      attempts: 8,
      backoff: { type: "exponential", delay: 1_000 },
      removeOnComplete: { age: 86_400, count: 10_000 },
      removeOnFail: { age: 604_800, count: 100_000 },
    });
  });

  it("lays a caller's overrides over the defaults", () => {
    const options = buildJobOptions({ backoff: { type: "fixed", delay: 5 }, attempts: 3 });
    expect(options).toEqual({ ...DEFAULT_JOB_OPTIONS, backoff: { type: "fixed", delay: 5 }, attempts: 3 });
  });

  it("keeps queue keys under the platform prefix", () => {
    expect(DEFAULT_QUEUE_PREFIX).toBe("cf");
  });
});
