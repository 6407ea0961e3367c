import { isAppError, type KeyRecord, type ModelCatalogEntry } from "@cloudfreedom/shared";
import type { Context } from "hono";
import type { RouterDeps } from "../../deps.ts";
import { REQUEST_TIMED_OUT } from "../routing/execute.ts";
import type { TransformedStream } from "../upstream/open-stream.ts";
import type { Operation } from "../usage/record.ts";
import { admitModel, type Capability } from "./admission.ts";
import { type MaxUsage, reserveForCall } from "./budget.ts";
import { CallTracker } from "./tracker.ts";

export interface RequestScope {
  /**
   * Aborts on client disconnect, or when the total timeout (all attempts, fallbacks and a stream's opening)
   * passes before the answer was handed over.
   */
  signal: AbortSignal;
  /** Clear the timer and the listener once the response ended; nothing of the request stays reachable. */
  dispose(): void;
  /**
   * A stream takes the scope over once its first chunks are known: the total timer stops (an answer that
   * keeps coming may run as long as it needs), and the stream's idle watch (STREAM_IDLE_TIMEOUT_MS) bounds a
   * stalled upstream instead. The scope ends when the stream does (call the returned function), not before.
   */
  handOver(stream: TransformedStream): () => void;
  readonly handedOver: boolean;
}

/**
 * One timer per request, cleared when it ends or when a stream takes over with its own. (`AbortSignal.timeout`
 * would keep every finished request reachable from a pending timer for the whole timeout: hundreds of MB
 * under load.)
 */
export function requestScope(c: Context, deps: RouterDeps): RequestScope {
  const controller = new AbortController();
  const client = c.req.raw.signal;
  const abort = () => controller.abort("client");
  const timer = setTimeout(() => controller.abort(REQUEST_TIMED_OUT), deps.env.REQUEST_TIMEOUT_MS);
  if (client.aborted) controller.abort("client");
  else client.addEventListener("abort", abort, { once: true });
  const dispose = () => {
    clearTimeout(timer);
    client.removeEventListener("abort", abort);
  };
  let handedOver = false;
  return {
    signal: controller.signal,
    dispose,
    handOver: (stream) => {
      handedOver = true;
      clearTimeout(timer);
      stream.watchIdle(deps.env.STREAM_IDLE_TIMEOUT_MS);
      return dispose;
    },
    get handedOver() {
      return handedOver;
    },
  };
}

/**
 * Admit the model for this key, then admit the call against budgets and limits (holding its maximum cost),
 * and open the call's tracker. Every refusal throws before any provider is called, and produces no usage
 * event: nothing was consumed, and the request log line records the denial.
 */
/**
 * One call from admission to answer: start it (throws the refusals), open its request scope, run `answer`;
 * a failure is recorded on the tracker before it propagates, and the scope ends with the handler unless a
 * stream took it over.
 */
export async function runCall(
  c: Context,
  deps: RouterDeps,
  key: KeyRecord,
  call: Parameters<typeof startCall>[3],
  answer: (tracker: CallTracker, scope: RequestScope) => Promise<Response>,
): Promise<Response> {
  const tracker = await startCall(c, deps, key, call);
  const scope = requestScope(c, deps);
  try {
    return await answer(tracker, scope);
  } catch (error) {
    tracker.fail(error);
    // A failed call's answer says what was tried too, as a served one's does.
    if (isAppError(error) && tracker.attempts > 0) Object.assign(error.headers, tracker.headers());
    throw error;
  } finally {
    if (!scope.handedOver) scope.dispose();
  }
}

export async function startCall(
  c: Context,
  deps: RouterDeps,
  key: KeyRecord,
  call: {
    modelId: string;
    capability: Capability;
    operation: Operation;
    stream: boolean;
    usage: (model: ModelCatalogEntry) => MaxUsage;
    /** The prompt's tokens as a tokenizer counts them, for a call the client left before its answer. */
    promptTokens: () => number;
  },
): Promise<CallTracker> {
  const admitted = admitModel(deps, key, call.modelId, call.capability);
  const reservation = await reserveForCall(deps, key, admitted.model, call.usage(admitted.model));
  return new CallTracker(
    deps,
    c.get("requestId"),
    key,
    admitted,
    call.operation,
    call.stream,
    c.req.header("traceparent"),
    reservation,
    call.promptTokens,
  );
}
