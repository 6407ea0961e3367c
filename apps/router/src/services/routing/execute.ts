import { AppError, type Deployment } from "@cloudfreedom/shared";
import type { UpstreamFailure } from "../../providers/types.ts";
import type { CircuitBreaker } from "./circuit-breaker.ts";
import { backoffMs } from "./plan.ts";

export type AttemptResult<T> = { ok: true; value: T } | { ok: false; failure: UpstreamFailure };

export interface RoutingPolicy {
  maxAttempts: number;
  retryBaseMs: number;
  retryMaxMs: number;
}

export interface Routed<T> {
  value: T;
  deployment: Deployment;
  attempts: number;
}

/** Why a request's signal aborted: the whole-request budget ran out (anything else: the client left). */
export const REQUEST_TIMED_OUT = "request_timed_out";

/**
 * The client went away: stop trying. Nobody reads the answer, so it is an AppError that is not logged as
 * an unhandled error; the call is recorded as cancelled.
 */
export class ClientGone extends AppError {
  constructor() {
    super("upstream_error", "client disconnected");
    this.name = "ClientGone";
  }
}

/** What an aborted request signal means: a 504 when its time budget ran out, else the client left. */
export function abortError(signal: AbortSignal): AppError {
  return signal.reason === REQUEST_TIMED_OUT
    ? new AppError(
        "upstream_timeout",
        "The request exceeded its time budget (REQUEST_TIMEOUT_MS) across all attempts",
      )
    : new ClientGone();
}

const sleep = (ms: number, signal: AbortSignal) =>
  new Promise<void>((resolve, reject) => {
    if (signal.aborted) return reject(abortError(signal));
    const timer = setTimeout(resolve, ms);
    signal.addEventListener(
      "abort",
      () => {
        clearTimeout(timer);
        reject(abortError(signal));
      },
      { once: true },
    );
  });

/**
 * Try deployments in plan order. A retryable failure moves to the next untried deployment at once
 * (fallback); once every deployment was tried, it backs off (honouring Retry-After) and goes through the
 * plan again from the top, healthy deployments (closed circuit) first, so the preferred deployment is
 * retried; up to `maxAttempts` in all. A failure that is the deployment's own (credentials, account,
 * region, missing model: `fallback`) moves on too, but that deployment is not tried again; one that is the
 * request's (invalid, too long, content policy) ends the request, as it would fail everywhere. Cooling
 * deployments (open circuit) are skipped. Nothing here has sent a byte to the client, which is what makes
 * fallback safe; callers start streaming only after `attempt` returned ok.
 */
export async function executeWithRouting<T>(options: {
  plan: Deployment[];
  breaker: CircuitBreaker;
  policy: RoutingPolicy;
  signal: AbortSignal;
  attempt: (deployment: Deployment, attemptNumber: number) => Promise<AttemptResult<T>>;
}): Promise<Routed<T>> {
  const { plan, breaker, policy, signal } = options;
  // Tried in the current pass over the plan.
  const tried = new Set<string>();
  // Not tried again in this request: failed for a reason of its own, or asked to wait longer than we would.
  // This and `waits` are made only when a request needs them: most never fail.
  let dropped: Set<string> | undefined;
  const usable = (d: Deployment) => !dropped?.has(d.id);
  const drop = (id: string) => {
    dropped ??= new Set();
    dropped.add(id);
  };
  // Retry-After of each deployment's failure in the current pass (only when one was given).
  let waits: Map<string, number> | undefined;
  // `allow` claims a half-open probe slot, so ask it only for the deployment about to be tried.
  // The probe slots this request claimed: only those are freed when an attempt ends without an answer.
  const probes = new Set<string>();
  const admit = (id: string) => {
    const how = breaker.admit(id);
    if (how === "probe") probes.add(id);
    return how !== null;
  };
  const release = (id: string) => {
    if (probes.delete(id)) breaker.release(id);
  };
  const nextUntried = () => plan.find((d) => !tried.has(d.id) && usable(d) && admit(d.id));
  // A new pass starts with the first deployment whose circuit is closed (no probe slot involved), else
  // with the first the breaker lets probe.
  const healthy = () => plan.find((d) => usable(d) && breaker.availableAt(d.id) === 0);
  let current = nextUntried();
  if (!current) {
    const soonest = Math.min(...plan.map((d) => breaker.availableAt(d.id)));
    const seconds = Math.max(1, Math.ceil((soonest - Date.now()) / 1000));
    throw new AppError(
      "upstream_error",
      `Every deployment of this model is cooling down after repeated failures; retry in ${seconds}s`,
      { deployments: plan.map((d) => d.id) },
      { "retry-after": String(seconds) },
    );
  }
  let last: UpstreamFailure | undefined;
  let pass = 1;
  for (let attempt = 1; attempt <= policy.maxAttempts; attempt++) {
    if (signal.aborted) {
      // `admit` may have claimed this deployment's half-open probe: unused, it must be freed, or the
      // deployment would stay shut out until the process restarts.
      release(current.id);
      throw abortError(signal);
    }
    tried.add(current.id);
    let result: AttemptResult<T>;
    try {
      result = await options.attempt(current, attempt);
    } catch (error) {
      // The request itself failed (client gone, body the provider cannot take): the upstream is not to blame.
      release(current.id);
      throw error;
    }
    if (result.ok) {
      breaker.success(current.id);
      return { value: result.value, deployment: current, attempts: attempt };
    }
    last = result.failure;
    // A retryable failure, and the deployment's own (its key, account, region, a model it lacks), count
    // against it, so a broken deployment is cooled down instead of costing every request a round trip; the
    // request's own (400) proves it is up. Either way the probe slot, if this request held it, was used.
    const heldProbe = probes.delete(current.id);
    if (last.retryable || last.fallback) breaker.failure(current.id, Date.now(), heldProbe);
    else breaker.success(current.id);
    if (!last.retryable && !last.fallback) break;
    if (attempt === policy.maxAttempts) break;
    if (!last.retryable) drop(current.id);
    else if (last.retryAfterMs !== null) {
      waits ??= new Map();
      waits.set(current.id, last.retryAfterMs);
    }
    const fallback = nextUntried();
    if (fallback) {
      current = fallback;
      continue;
    }
    // Every deployment was tried in this pass. One that asks to wait longer than we ever would is given up
    // rather than hammered; the pass after the backoff starts with the first of the others.
    if (waits) for (const [id, ms] of waits) if (ms > policy.retryMaxMs) drop(id);
    const first = healthy() ?? plan.find((d) => usable(d) && !breaker.isOpen(d.id));
    if (!first) break;
    await sleep(backoffMs(pass, policy.retryBaseMs, policy.retryMaxMs, waits?.get(first.id) ?? null), signal);
    pass++;
    tried.clear();
    waits?.clear();
    const restart = healthy() ?? nextUntried();
    if (!restart) break;
    current = restart;
  }
  const failure = last as UpstreamFailure;
  const headers: Record<string, string> =
    failure.retryAfterMs !== null ? { "retry-after": String(Math.ceil(failure.retryAfterMs / 1000)) } : {};
  throw new AppError(
    failure.code,
    failure.message,
    failure.local ? {} : { upstream_status: failure.status },
    headers,
  );
}
