import type { KeyRecord } from "@cloudfreedom/shared";
import type { Context } from "hono";
import type { RouterDeps } from "../../deps.ts";
import type { Operation } from "../usage/record.ts";
import { type Capability, admitModel } from "./admission.ts";
import { CallTracker } from "./tracker.ts";

export interface RequestScope {
  /** Aborts on client disconnect or when the total timeout (all attempts and fallbacks) passes. */
  signal: AbortSignal;
  /** Clear the timer and the listener once the response ended; nothing of the request stays reachable. */
  dispose(): void;
}

/**
 * One timer per request, cleared when it ends. (`AbortSignal.timeout` would keep every finished request
 * reachable from a pending timer for the whole timeout: hundreds of MB under load.)
 */
export function requestScope(c: Context, deps: RouterDeps): RequestScope {
  const controller = new AbortController();
  const client = c.req.raw.signal;
  const abort = () => controller.abort();
  const timer = setTimeout(abort, deps.env.REQUEST_TIMEOUT_MS);
  if (client.aborted) controller.abort();
  else client.addEventListener("abort", abort, { once: true });
  return {
    signal: controller.signal,
    dispose: () => {
      clearTimeout(timer);
      client.removeEventListener("abort", abort);
    },
  };
}

/** Admit the model for this key and open the call's tracker. Refusals throw before any provider is called. */
export function startCall(
  c: Context,
  deps: RouterDeps,
  key: KeyRecord,
  modelId: string,
  capability: Capability,
  operation: Operation,
  stream: boolean,
): CallTracker {
  const admitted = admitModel(deps, key, modelId, capability);
  return new CallTracker(deps, c.get("requestId"), key, admitted, operation, stream, c.req.header("traceparent"));
}
