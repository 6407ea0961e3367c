import { describe, expect, it } from "vitest";
import {
  buildJobOptions,
  CAPPED_BACKOFF_MAX_MS,
  cappedBackoff,
  DEFAULT_JOB_OPTIONS,
  DEFAULT_QUEUE_PREFIX,
  DURABLE_JOB_OPTIONS,
} from "../src/index.ts";

describe("job options", () => {
  it("retries with exponential backoff and keeps bounded history of completed and failed jobs", () => {
    expect(buildJobOptions()).toEqual({
      attempts: 8,
      backoff: { type: "exponential", delay: 1_000 },
      removeOnComplete: { age: 86_400, count: 10_000 },
      removeOnFail: { age: 604_800, count: 100_000 },
    });
  });

  it("keeps few completed jobs of the queues that carry events, the defaults elsewhere", () => {
    for (const queue of ["usage", "analytics", "traces"] as const) {
      expect(buildJobOptions({}, queue).removeOnComplete).toEqual({ age: 3_600, count: 100 });
    }
    // Failed usage is billable: kept as long as anything; failed analytics and spans are bounded.
    expect(buildJobOptions({}, "usage").removeOnFail).toEqual(DEFAULT_JOB_OPTIONS.removeOnFail);
    for (const queue of ["analytics", "traces"] as const) {
      expect(buildJobOptions({}, queue).removeOnFail).toEqual({ age: 604_800, count: 1_000 });
    }
    expect(buildJobOptions({}, "billing-maintenance")).toEqual(DEFAULT_JOB_OPTIONS);
    expect(buildJobOptions({ removeOnComplete: false }, "usage").removeOnComplete).toBe(false);
  });

  it("lays a caller's overrides over the defaults", () => {
    const options = buildJobOptions({ backoff: { type: "fixed", delay: 5 }, attempts: 3 });
    expect(options).toEqual({ ...DEFAULT_JOB_OPTIONS, backoff: { type: "fixed", delay: 5 }, attempts: 3 });
  });

  it("keeps queue keys under the platform prefix", () => {
    expect(DEFAULT_QUEUE_PREFIX).toBe("cf");
  });
});

describe("cappedBackoff", () => {
  it("doubles from the job's delay and never waits more than a minute", () => {
    expect([1, 2, 3, 4].map((n) => cappedBackoff(n, 1_000))).toEqual([1_000, 2_000, 4_000, 8_000]);
    expect(cappedBackoff(7, 1_000)).toBe(CAPPED_BACKOFF_MAX_MS);
    expect(cappedBackoff(1_999, 1_000)).toBe(CAPPED_BACKOFF_MAX_MS);
    expect(cappedBackoff(1)).toBe(1_000);
  });

  it("keeps a usage job retrying for more than a day", () => {
    let waited = 0;
    for (let n = 1; n < DURABLE_JOB_OPTIONS.attempts; n++)
      waited += cappedBackoff(n, DURABLE_JOB_OPTIONS.backoff.delay);
    expect(waited).toBeGreaterThan(24 * 60 * 60 * 1000);
  });
});
