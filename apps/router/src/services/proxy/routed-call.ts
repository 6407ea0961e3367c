import type { RouterDeps } from "../../deps.ts";
import type {
  CallContext,
  ChatStreamTransform,
  ProviderAdapter,
  UpstreamHttpRequest,
} from "../../providers/types.ts";
import { type AttemptResult, executeWithRouting } from "../routing/execute.ts";
import { callUpstream, callUpstreamJson } from "../upstream/call.ts";
import { openStream } from "../upstream/open-stream.ts";
import type { CallTracker } from "./tracker.ts";

export interface Served<T> {
  adapter: ProviderAdapter;
  ctx: CallContext;
  value: T;
}

/**
 * How an answer is read: its JSON body, or a stream through the deployment's transform, opened up to its
 * first chunk (an `OpenedStream`).
 */
export type Reading = "json" | ((adapter: ProviderAdapter, ctx: CallContext) => ChatStreamTransform);

/**
 * Route one call through the model's deployments (weights, fallbacks, retries, circuit breaker) and return
 * the first upstream that answered 2xx. `read` turns that answer into the value (parses the JSON body, or
 * opens the stream) and may itself fail retryably. Each attempt has its own bound, so a hanging deployment
 * is left for the next one: UPSTREAM_RESPONSE_TIMEOUT_MS for a whole JSON answer, UPSTREAM_TIMEOUT_MS up to
 * a stream's status line. The tracker learns the deployment and attempt count.
 */
export async function routeCall<T>(
  deps: RouterDeps,
  tracker: CallTracker,
  signal: AbortSignal,
  build: (adapter: ProviderAdapter, ctx: CallContext) => UpstreamHttpRequest,
  read: Reading,
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
        maxOutputTokens: tracker.admitted.model.max_output_tokens,
        reasoning: tracker.admitted.model.capabilities.includes("reasoning"),
      };
      const request = build(adapter, ctx);
      const json = read === "json";
      const timeoutMs = json ? deps.env.UPSTREAM_RESPONSE_TIMEOUT_MS : deps.env.UPSTREAM_TIMEOUT_MS;
      const options = { client: deps.upstream, adapter, provider: target.name, timeoutMs, signal };
      let body: AttemptResult<unknown>;
      try {
        if (json) body = await callUpstreamJson(request, options);
        else {
          const answered = await callUpstream(request, options);
          if (!answered.ok) return answered;
          body = await openStream(answered.value, read(adapter, ctx), target.name, signal);
        }
      } finally {
        // Aborted while the provider had the request (not during a backoff between attempts).
        if (signal.aborted) tracker.abortedUpstream = true;
      }
      return body.ok ? { ok: true, value: { adapter, ctx, value: body.value as T } } : body;
    },
  });
  return routed.value;
}
