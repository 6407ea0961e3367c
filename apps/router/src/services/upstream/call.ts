import type { ProviderAdapter, UpstreamFailure, UpstreamHttpRequest } from "../../providers/types.ts";
import { type AttemptResult, abortError } from "../routing/execute.ts";
import type { UpstreamClient, UpstreamResponse } from "./client.ts";

export interface UpstreamCall {
  response: UpstreamResponse;
  /** Aborts the upstream request (client went away, or total timeout). */
  abort: () => void;
}

export interface AttemptOptions {
  client: UpstreamClient;
  adapter: ProviderAdapter;
  provider: string;
  /** The attempt's own bound; when it passes, the attempt fails retryably (504 upstream_timeout). */
  timeoutMs: number;
  /** The request's (client disconnect + total timeout); aborts the upstream too. */
  signal: AbortSignal;
}

const failure = (code: UpstreamFailure["code"], message: string): AttemptResult<never> => ({
  ok: false,
  failure: {
    status: code === "upstream_timeout" ? 504 : 502,
    code,
    message,
    retryable: true,
    retryAfterMs: null,
    local: true,
  },
});

/**
 * One attempt of a streamed call against one deployment. Resolves ok once a 2xx status arrived (the stream
 * is the caller's to read, and the request's signal still aborts it); a non-2xx is read and mapped by the
 * adapter. `timeoutMs` bounds connecting and the wait for the status line, which a stream sends at once.
 */
export function callUpstream(
  request: UpstreamHttpRequest,
  options: AttemptOptions,
): Promise<AttemptResult<UpstreamCall>> {
  return attempt(request, options, true, async (call) => ({ ok: true, value: call }));
}

/**
 * One attempt of a non-streamed call, read to its end. A non-streamed answer's status line comes only when
 * generation ended, so `timeoutMs` bounds the whole exchange: connecting, the status line and the body. A
 * body that is not JSON counts as a retryable upstream failure.
 */
export function callUpstreamJson(
  request: UpstreamHttpRequest,
  options: AttemptOptions,
): Promise<AttemptResult<unknown>> {
  return attempt(request, options, false, async (call) => {
    const text = await call.response.text();
    try {
      return { ok: true, value: JSON.parse(text) };
    } catch {
      return failure("upstream_error", `${options.provider} sent a response that is not JSON`);
    }
  });
}

/**
 * The attempt's own controller and timer (one of each per attempt), around `post` and `read`. Failures
 * while connecting or reading are the upstream's (retryable), unless the request itself ended (client gone,
 * total timeout): that is thrown, as no deployment is to blame. `outlives`: a value read ok keeps the
 * upstream open after the attempt (a stream), so the request's abort must still reach it.
 */
async function attempt<T>(
  request: UpstreamHttpRequest,
  options: AttemptOptions,
  outlives: boolean,
  read: (call: UpstreamCall) => Promise<AttemptResult<T>>,
): Promise<AttemptResult<T>> {
  const own = new AbortController();
  let timedOut = false;
  let answered = false;
  const timer = setTimeout(() => {
    timedOut = true;
    own.abort();
  }, options.timeoutMs);
  const onAbort = () => own.abort();
  options.signal.addEventListener("abort", onAbort, { once: true });
  let kept = false;
  try {
    const response = await options.client.post(request, own.signal);
    answered = true;
    if (!response.ok) {
      const text = await response.text();
      return { ok: false, failure: options.adapter.failure(response.status, text, response.headers) };
    }
    const result = await read({ response, abort: () => own.abort() });
    kept = outlives && result.ok;
    return result;
  } catch (error) {
    if (options.signal.aborted) throw abortError(options.signal);
    if (timedOut) {
      const what = answered ? "finish its answer" : "answer";
      return failure(
        "upstream_timeout",
        `${options.provider} did not ${what} within ${options.timeoutMs} ms`,
      );
    }
    const reason = error instanceof Error ? error.message : "connection failed";
    return answered
      ? failure("upstream_error", `${options.provider}'s answer broke off: ${reason}`)
      : failure("upstream_error", `${options.provider} is unreachable: ${reason}`);
  } finally {
    clearTimeout(timer);
    if (!kept) options.signal.removeEventListener("abort", onAbort);
  }
}
