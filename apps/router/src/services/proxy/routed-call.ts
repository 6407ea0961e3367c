import type { RouterDeps } from "../../deps.ts";
import type { CallContext, ProviderAdapter, UpstreamHttpRequest } from "../../providers/types.ts";
import { executeWithRouting } from "../routing/execute.ts";
import { callUpstream, readJsonBody, type UpstreamCall } from "../upstream/call.ts";
import type { CallTracker } from "./tracker.ts";

export interface Served<T> {
  adapter: ProviderAdapter;
  ctx: CallContext;
  value: T;
}

/**
 * Route one call through the model's deployments (weights, fallbacks, retries, circuit breaker) and return
 * the first upstream that answered 2xx. `read` turns that answer into the value (e.g. parses the JSON body)
 * and may itself fail retryably. The tracker learns the deployment and attempt count.
 */
export async function routeCall<T>(
  deps: RouterDeps,
  tracker: CallTracker,
  signal: AbortSignal,
  build: (adapter: ProviderAdapter, ctx: CallContext) => UpstreamHttpRequest,
  read: "json" | "stream",
): Promise<Served<T>> {
  const routed = await executeWithRouting<Served<T>>({
    plan: tracker.admitted.deployments,
    breaker: deps.breaker,
    signal,
    policy: {
      maxAttempts: deps.env.MAX_ATTEMPTS,
      retryBaseMs: deps.env.RETRY_BASE_MS,
      retryMaxMs: deps.env.RETRY_MAX_MS,
    },
    attempt: async (deployment, attemptNumber) => {
      tracker.attempts = attemptNumber;
      const target = deps.catalog.provider(deployment.provider);
      if (!target) {
        return {
          ok: false,
          failure: {
            status: 503,
            code: "service_unavailable",
            message: `provider ${deployment.provider} is no longer configured`,
            retryable: true,
            retryAfterMs: null,
          },
        };
      }
      tracker.deployment = deployment;
      tracker.target = target;
      const adapter = deps.adapters[target.kind];
      const ctx: CallContext = {
        target,
        upstreamModel: deployment.upstream_model,
        requestId: tracker.requestId,
      };
      const request = build(adapter, ctx);
      const answered = await callUpstream(request, {
        adapter,
        provider: target.name,
        // A non-streamed answer's status line comes only when generation ends: bounding it per attempt would
        // abort (and re-pay) long generations. Those get the request's whole budget; streams answer at once.
        timeoutMs: read === "stream" ? deps.env.UPSTREAM_TIMEOUT_MS : deps.env.REQUEST_TIMEOUT_MS,
        signal,
      });
      if (!answered.ok) return answered;
      if (read === "stream") return { ok: true, value: { adapter, ctx, value: answered.value as T } };
      const body = await readJsonBody(answered.value as UpstreamCall, target.name);
      return body.ok ? { ok: true, value: { adapter, ctx, value: body.value as T } } : body;
    },
  });
  return routed.value;
}
