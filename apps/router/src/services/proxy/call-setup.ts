import type { KeyRecord } from "@cloudfreedom/shared";
import type { Context } from "hono";
import type { RouterDeps } from "../../deps.ts";
import type { Operation } from "../usage/record.ts";
import { type Capability, admitModel } from "./admission.ts";
import { CallTracker } from "./tracker.ts";

/** The request's signal: the client's disconnect and the total timeout across all attempts. */
export function requestSignal(c: Context, deps: RouterDeps): AbortSignal {
  return AbortSignal.any([c.req.raw.signal, AbortSignal.timeout(deps.env.REQUEST_TIMEOUT_MS)]);
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
