import { AppError, type Deployment } from "@cloudfreedom/shared";
import { describe, expect, it } from "vitest";
import { openAIAdapter } from "../../src/providers/openai/index.ts";
import type { UpstreamFailure } from "../../src/providers/types.ts";
import { CircuitBreaker } from "../../src/services/routing/circuit-breaker.ts";
import { ClientGone, executeWithRouting } from "../../src/services/routing/execute.ts";
import { backoffMs, weightedOrder } from "../../src/services/routing/plan.ts";
import { callUpstreamJson } from "../../src/services/upstream/call.ts";
import type { UpstreamClient, UpstreamResponse } from "../../src/services/upstream/client.ts";

const dep = (id: string, weight = 1): Deployment => ({ id, provider: id, upstream_model: "m", weight });
const retryable = (status = 503, retryAfterMs: number | null = null): UpstreamFailure => ({
  status,
  code: status === 429 ? "rate_limited" : "upstream_error",
  message: `failed ${status}`,
  retryable: true,
  retryAfterMs,
});
const policy = { maxAttempts: 3, retryBaseMs: 1, retryMaxMs: 5 };
const never = new AbortController().signal;

describe("weightedOrder", () => {
  it("follows the weights for the first pick", () => {
    let seed = 1;
    const random = () => {
      seed = (seed * 16807) % 2147483647;
      return seed / 2147483647;
    };
    const counts = { a: 0, b: 0 };
    for (let i = 0; i < 10_000; i++) {
      const first = weightedOrder([dep("a", 3), dep("b", 1)], random)[0];
      if (first) counts[first.id as "a" | "b"]++;
    }
    expect(counts.a / 10_000).toBeGreaterThan(0.72);
    expect(counts.a / 10_000).toBeLessThan(0.78);
  });

  it("returns every deployment exactly once", () => {
    const order = weightedOrder([dep("a"), dep("b"), dep("c")]);
    expect(order.map((d) => d.id).sort()).toEqual(["a", "b", "c"]);
  });
});

describe("backoffMs", () => {
  it("grows exponentially, is capped, and honours Retry-After", () => {
    expect(backoffMs(1, 100, 5_000, null, () => 1)).toBe(100);
    expect(backoffMs(3, 100, 5_000, null, () => 1)).toBe(400);
    expect(backoffMs(10, 100, 5_000, null, () => 1)).toBe(5_000);
    expect(backoffMs(1, 100, 5_000, 2_000, () => 0)).toBe(2_000);
    expect(backoffMs(1, 100, 5_000, 60_000, () => 0)).toBe(5_000);
  });
});

describe("CircuitBreaker", () => {
  it("opens after the threshold, lets one probe through after the cooldown, and closes on success", () => {
    const breaker = new CircuitBreaker(2, 1_000);
    breaker.failure("a", 0);
    expect(breaker.allow("a", 1)).toBe(true);
    breaker.failure("a", 1);
    expect(breaker.allow("a", 500)).toBe(false);
    expect(breaker.allow("a", 1_002)).toBe(true);
    expect(breaker.allow("a", 1_003)).toBe(false);
    breaker.success("a");
    expect(breaker.allow("a", 1_004)).toBe(true);
  });

  it("reopens when the probe fails", () => {
    const breaker = new CircuitBreaker(1, 1_000);
    breaker.failure("a", 0);
    expect(breaker.allow("a", 1_001)).toBe(true);
    breaker.failure("a", 1_001);
    expect(breaker.allow("a", 1_500)).toBe(false);
    expect(breaker.availableAt("a")).toBe(2_001);
  });
});

describe("executeWithRouting", () => {
  it("falls back to the next deployment on a retryable failure", async () => {
    const calls: string[] = [];
    const result = await executeWithRouting({
      plan: [dep("a"), dep("b")],
      breaker: new CircuitBreaker(5, 1_000),
      policy,
      signal: never,
      attempt: async (d) => {
        calls.push(d.id);
        return d.id === "a" ? { ok: false, failure: retryable() } : { ok: true, value: "from b" };
      },
    });
    expect(calls).toEqual(["a", "b"]);
    expect(result).toMatchObject({ value: "from b", attempts: 2, deployment: { id: "b" } });
  });

  it("retries the same deployment when it is the only one, then gives up with the last failure", async () => {
    let calls = 0;
    const attempt = executeWithRouting({
      plan: [dep("a")],
      breaker: new CircuitBreaker(5, 1_000),
      policy,
      signal: never,
      attempt: async () => {
        calls++;
        return { ok: false, failure: retryable(429, 3) };
      },
    });
    await expect(attempt).rejects.toMatchObject({ code: "rate_limited", headers: { "retry-after": "1" } });
    expect(calls).toBe(3);
  });

  it("does not retry a failure that is not retryable", async () => {
    let calls = 0;
    const failure: UpstreamFailure = {
      status: 400,
      code: "invalid_request",
      message: "bad",
      retryable: false,
      retryAfterMs: null,
    };
    await expect(
      executeWithRouting({
        plan: [dep("a"), dep("b")],
        breaker: new CircuitBreaker(5, 1_000),
        policy,
        signal: never,
        attempt: async () => {
          calls++;
          return { ok: false, failure };
        },
      }),
    ).rejects.toBeInstanceOf(AppError);
    expect(calls).toBe(1);
  });

  it("goes through the plan again after the backoff, so the preferred deployment is retried", async () => {
    const calls: string[] = [];
    const result = await executeWithRouting({
      plan: [dep("a", 99), dep("b", 1)],
      breaker: new CircuitBreaker(5, 1_000),
      policy,
      signal: never,
      attempt: async (d) => {
        calls.push(d.id);
        return calls.length < 3 ? { ok: false, failure: retryable() } : { ok: true, value: `from ${d.id}` };
      },
    });
    expect(calls).toEqual(["a", "b", "a"]);
    expect(result).toMatchObject({ value: "from a", attempts: 3, deployment: { id: "a" } });
  });

  it("falls back from a failure that is the deployment's own, and never tries that deployment again", async () => {
    const calls: string[] = [];
    const credentials: UpstreamFailure = {
      status: 401,
      code: "upstream_error",
      message: "a refused the platform's credentials",
      retryable: false,
      fallback: true,
      retryAfterMs: null,
    };
    await expect(
      executeWithRouting({
        plan: [dep("a"), dep("b")],
        breaker: new CircuitBreaker(5, 1_000),
        policy,
        signal: never,
        attempt: async (d) => {
          calls.push(d.id);
          return { ok: false, failure: d.id === "a" ? credentials : retryable() };
        },
      }),
    ).rejects.toMatchObject({ code: "upstream_error", message: "failed 503" });
    expect(calls).toEqual(["a", "b", "b"]);
  });

  it("counts a deployment's own failure against its circuit breaker, and a request's own (400) not", async () => {
    const breaker = new CircuitBreaker(1, 60_000);
    const own = { status: 401, code: "upstream_error", message: "bad key", retryable: false, fallback: true };
    const result = await executeWithRouting({
      plan: [dep("a"), dep("b")],
      breaker,
      policy,
      signal: never,
      attempt: async (d) =>
        d.id === "a"
          ? { ok: false, failure: { ...own, code: "upstream_error" as const, retryAfterMs: null } }
          : { ok: true, value: "served" },
    });
    expect(result.value).toBe("served");
    expect(breaker.isOpen("a")).toBe(true);
    await expect(
      executeWithRouting({
        plan: [dep("c")],
        breaker,
        policy,
        signal: never,
        attempt: async () => ({
          ok: false,
          failure: {
            status: 400,
            code: "invalid_request",
            message: "bad request",
            retryable: false,
            retryAfterMs: null,
          },
        }),
      }),
    ).rejects.toMatchObject({ code: "invalid_request" });
    expect(breaker.isOpen("c")).toBe(false);
  });

  it("does not retry the only deployment when the failure is its own", async () => {
    let calls = 0;
    await expect(
      executeWithRouting({
        plan: [dep("a")],
        breaker: new CircuitBreaker(5, 1_000),
        policy,
        signal: never,
        attempt: async () => {
          calls++;
          return {
            ok: false,
            failure: {
              status: 404,
              code: "upstream_error",
              message: "no such model",
              retryable: false,
              fallback: true,
              retryAfterMs: null,
            },
          };
        },
      }),
    ).rejects.toMatchObject({ code: "upstream_error", message: "no such model" });
    expect(calls).toBe(1);
  });

  it("starts a retry pass with a deployment whose circuit is closed before one it would have to probe", async () => {
    // `a` opens on its second failure and may be probed at once (no cooldown); `b` stays closed.
    const breaker = new CircuitBreaker(2, 0);
    breaker.failure("a");
    const calls: string[] = [];
    await expect(
      executeWithRouting({
        plan: [dep("a"), dep("b")],
        breaker,
        policy,
        signal: never,
        attempt: async (d) => {
          calls.push(d.id);
          return { ok: false, failure: retryable() };
        },
      }),
    ).rejects.toMatchObject({ code: "upstream_error" });
    expect(calls).toEqual(["a", "b", "b"]);
  });

  it("skips a deployment whose circuit is open and fails fast when all are", async () => {
    const breaker = new CircuitBreaker(1, 60_000);
    breaker.failure("a");
    const calls: string[] = [];
    await executeWithRouting({
      plan: [dep("a"), dep("b")],
      breaker,
      policy,
      signal: never,
      attempt: async (d) => {
        calls.push(d.id);
        return { ok: true, value: 1 };
      },
    });
    expect(calls).toEqual(["b"]);
    breaker.failure("b");
    await expect(
      executeWithRouting({
        plan: [dep("a"), dep("b")],
        breaker,
        policy,
        signal: never,
        attempt: async () => ({ ok: true, value: 1 }),
      }),
    ).rejects.toMatchObject({ code: "upstream_error", message: expect.stringMatching(/cooling down/) });
  });

  it("closes the circuit when the half-open probe is answered with a client error", async () => {
    const breaker = new CircuitBreaker(1, 10);
    breaker.failure("a", Date.now() - 100);
    const bad: UpstreamFailure = {
      status: 400,
      code: "invalid_request",
      message: "bad",
      retryable: false,
      retryAfterMs: null,
    };
    await expect(
      executeWithRouting({
        plan: [dep("a")],
        breaker,
        policy,
        signal: never,
        attempt: async () => ({ ok: false, failure: bad }),
      }),
    ).rejects.toMatchObject({ code: "invalid_request" });
    expect(breaker.allow("a")).toBe(true);
    expect(breaker.allow("a")).toBe(true);
  });

  it("frees the probe slot when the probe throws (client gone, body refused)", async () => {
    const breaker = new CircuitBreaker(1, 10);
    breaker.failure("a", Date.now() - 100);
    await expect(
      executeWithRouting({
        plan: [dep("a")],
        breaker,
        policy,
        signal: never,
        attempt: async () => {
          throw new AppError("validation_failed", "n: not supported");
        },
      }),
    ).rejects.toMatchObject({ code: "validation_failed" });
    expect(breaker.allow("a")).toBe(true);
  });

  it("frees the probe slot it claimed when the client has gone before the probe went out", async () => {
    const breaker = new CircuitBreaker(1, 10);
    breaker.failure("a", Date.now() - 100);
    const gone = new AbortController();
    gone.abort("client");
    let calls = 0;
    const run = (signal: AbortSignal) =>
      executeWithRouting({
        plan: [dep("a")],
        breaker,
        policy,
        signal,
        attempt: async () => {
          calls++;
          return { ok: true, value: 1 };
        },
      });
    await expect(run(gone.signal)).rejects.toBeInstanceOf(ClientGone);
    expect(calls).toBe(0);
    // The next request probes the deployment (and its answer closes the circuit).
    expect(await run(never)).toMatchObject({ value: 1 });
    expect(breaker.isOpen("a")).toBe(false);
  });

  it("frees the fallback's probe slot when the client leaves during the first deployment's answer", async () => {
    const breaker = new CircuitBreaker(1, 10);
    breaker.failure("b", Date.now() - 100);
    const controller = new AbortController();
    await expect(
      executeWithRouting({
        plan: [dep("a"), dep("b")],
        breaker,
        policy,
        signal: controller.signal,
        attempt: async () => {
          controller.abort("client");
          return { ok: false, failure: retryable() };
        },
      }),
    ).rejects.toBeInstanceOf(ClientGone);
    expect(breaker.allow("b")).toBe(true);
  });

  it("frees only a probe slot it claimed: a request let in while the circuit was closed leaves another's probe alone", async () => {
    const breaker = new CircuitBreaker(1, 10);
    const controller = new AbortController();
    const running = executeWithRouting({
      plan: [dep("a")],
      breaker,
      policy,
      signal: controller.signal,
      attempt: async () => {
        // While this request's call is out, the circuit opens, cools down and another request takes the probe.
        breaker.failure("a", Date.now() - 100);
        expect(breaker.admit("a")).toBe("probe");
        controller.abort("client");
        throw new ClientGone();
      },
    });
    await expect(running).rejects.toBeInstanceOf(ClientGone);
    // The other request's probe is still out: nobody else may probe.
    expect(breaker.allow("a")).toBe(false);
  });

  it("leaves another request's probe out when its own attempt, let in while the circuit was closed, fails", async () => {
    const breaker = new CircuitBreaker(1, 10);
    await expect(
      executeWithRouting({
        plan: [dep("a")],
        breaker,
        policy: { ...policy, maxAttempts: 1 },
        signal: never,
        attempt: async () => {
          breaker.failure("a", Date.now() - 100);
          expect(breaker.admit("a")).toBe("probe");
          return { ok: false, failure: retryable() };
        },
      }),
    ).rejects.toMatchObject({ code: "upstream_error" });
    // The new cooldown passes; the probe taken meanwhile is still out, so no second one is let in.
    expect(breaker.allow("a", Date.now() + 1_000)).toBe(false);
  });

  it("gives up at once when the only deployment asks to wait longer than RETRY_MAX_MS", async () => {
    let calls = 0;
    await expect(
      executeWithRouting({
        plan: [dep("a")],
        breaker: new CircuitBreaker(5, 1_000),
        policy,
        signal: never,
        attempt: async () => {
          calls++;
          return { ok: false, failure: retryable(429, 60_000) };
        },
      }),
    ).rejects.toMatchObject({ code: "rate_limited", headers: { "retry-after": "60" } });
    expect(calls).toBe(1);
  });

  it("stops when the client has gone", async () => {
    const controller = new AbortController();
    controller.abort();
    await expect(
      executeWithRouting({
        plan: [dep("a")],
        breaker: new CircuitBreaker(5, 1),
        policy,
        signal: controller.signal,
        attempt: async () => ({ ok: true, value: 1 }),
      }),
    ).rejects.toBeInstanceOf(ClientGone);
  });
});

describe("callUpstreamJson", () => {
  const request = { url: "http://upstream.test/v1/chat/completions", headers: {}, body: "{}" };
  /** The signal's abort, as the clients report it. */
  const aborted = (signal: AbortSignal) =>
    new Promise<never>((_, reject) => {
      const fail = () => reject(new Error("The operation was aborted"));
      if (signal.aborted) fail();
      else signal.addEventListener("abort", fail);
    });
  /** A client answering 200 with `text`; `hangs` holds the status line or the body back until the abort. */
  const client = (text: string, hangs?: "answer" | "body") =>
    ({
      post: (_request: unknown, signal: AbortSignal): Promise<UpstreamResponse> =>
        hangs === "answer"
          ? aborted(signal)
          : Promise.resolve({
              status: 200,
              ok: true,
              headers: new Headers(),
              text: () => (hangs === "body" ? aborted(signal) : Promise.resolve(text)),
              json: () => Promise.reject(new Error("unused")),
              read: () => Promise.reject(new Error("unused")),
            }),
    }) as unknown as UpstreamClient;
  const call = (upstream: UpstreamClient, signal = never) =>
    callUpstreamJson(request, {
      client: upstream,
      adapter: openAIAdapter,
      provider: "openai",
      timeoutMs: 20,
      signal,
    });

  it("parses the answer's JSON body", async () => {
    expect(await call(client('{"ok":true}'))).toEqual({ ok: true, value: { ok: true } });
  });

  it("counts a body that does not parse against the upstream (retryable)", async () => {
    expect(await call(client("<html>"))).toMatchObject({
      ok: false,
      failure: { code: "upstream_error", retryable: true },
    });
  });

  it.each([
    ["status line", "answer", "did not answer"],
    ["body", "body", "did not finish its answer"],
  ] as const)(
    "fails the attempt retryably when the %s does not come within its timeout",
    async (_, hangs, says) => {
      expect(await call(client("{}", hangs))).toMatchObject({
        ok: false,
        failure: {
          status: 504,
          code: "upstream_timeout",
          retryable: true,
          message: `openai ${says} within 20 ms`,
        },
      });
    },
  );

  it("throws the request's own end when the read was cut by it, blaming no upstream", async () => {
    const controller = new AbortController();
    const running = call(client("{}", "body"), controller.signal);
    controller.abort("client");
    await expect(running).rejects.toBeInstanceOf(ClientGone);
  });
});
