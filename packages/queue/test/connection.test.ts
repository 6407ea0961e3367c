import { describe, expect, it } from "vitest";
import { buildRedisOptions, REDIS_DEFAULTS, reconnectDelay } from "../src/index.ts";

describe("reconnectDelay", () => {
  it("doubles from the base and stops at the cap", () => {
    const delays = [1, 2, 3, 4, 5, 6, 7, 8].map((attempt) => reconnectDelay(attempt, 100, 5_000));
    expect(delays).toEqual([100, 200, 400, 800, 1_600, 3_200, 5_000, 5_000]);
  });

  it("stays finite and capped after thousands of attempts", () => {
    expect(reconnectDelay(10_000, 100, 10_000)).toBe(10_000);
  });
});

describe("buildRedisOptions", () => {
  it("lets queue connections wait out a reconnect, as BullMQ workers require", () => {
    const options = buildRedisOptions({ purpose: "queue", name: "billing-worker" });
    expect(options).toMatchObject({
      maxRetriesPerRequest: null,
      enableOfflineQueue: true,
      connectionName: "billing-worker",
      lazyConnect: false,
    });
    expect(options.commandTimeout).toBeUndefined();
  });

  it("defaults to a queue connection", () => {
    expect(buildRedisOptions().maxRetriesPerRequest).toBeNull();
  });

  it("makes request connections fail fast: bounded retries, no offline queue, a command timeout", () => {
    const options = buildRedisOptions({ purpose: "request", lazyConnect: true });
    expect(options).toMatchObject({
      maxRetriesPerRequest: REDIS_DEFAULTS.requestMaxRetries,
      enableOfflineQueue: false,
      commandTimeout: REDIS_DEFAULTS.commandTimeoutMs,
      lazyConnect: true,
    });
    expect(options.connectionName).toBeUndefined();
  });

  it("takes the caller's bounds for request connections", () => {
    const options = buildRedisOptions({ purpose: "request", requestMaxRetries: 0, commandTimeoutMs: 250 });
    expect(options).toMatchObject({ maxRetriesPerRequest: 0, commandTimeout: 250 });
  });

  it("retries the connection with capped exponential backoff", () => {
    const { retryStrategy } = buildRedisOptions({ retryBaseMs: 50, retryMaxMs: 300 });
    expect([1, 2, 3, 4, 5].map((attempt) => retryStrategy?.(attempt))).toEqual([50, 100, 200, 300, 300]);
  });
});
