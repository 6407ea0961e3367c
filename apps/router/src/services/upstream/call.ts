import type { ProviderAdapter, UpstreamFailure, UpstreamHttpRequest } from "../../providers/types.ts";
import { type AttemptResult, abortError } from "../routing/execute.ts";
import type { UpstreamClient, UpstreamResponse } from "./client.ts";

export interface UpstreamCall {
  response: UpstreamResponse;
  /** Aborts the upstream request (client went away, or total timeout). */
  abort: () => void;
}

const failure = (code: UpstreamFailure["code"], message: string): AttemptResult<never> => ({
  ok: false,
  failure: {
    status: code === "upstream_timeout" ? 504 : 502,
    code,
    message,
    retryable: true,
    retryAfterMs: null,
  },
});

/**
 * One attempt against one deployment. Resolves ok once a 2xx status arrived (the body is the caller's to
 * read); a non-2xx is read and mapped by the adapter. `timeoutMs` bounds the wait for the status line (null:
 * only the request's own deadline does, and the attempt needs no controller or timer of its own);
 * `signal` is the request's (client disconnect + total timeout) and aborts the upstream too.
 */
export async function callUpstream(
  request: UpstreamHttpRequest,
  options: {
    client: UpstreamClient;
    adapter: ProviderAdapter;
    provider: string;
    timeoutMs: number | null;
    signal: AbortSignal;
  },
): Promise<AttemptResult<UpstreamCall>> {
  const own = options.timeoutMs === null ? null : new AbortController();
  let timedOut = false;
  const timer =
    own &&
    setTimeout(() => {
      timedOut = true;
      own.abort();
    }, options.timeoutMs ?? 0);
  const onAbort = () => own?.abort();
  if (own) options.signal.addEventListener("abort", onAbort, { once: true });
  const abort = () => own?.abort();
  try {
    const response = await options.client.post(request, own?.signal ?? options.signal);
    if (response.ok) return { ok: true, value: { response, abort } };
    const text = await response.text();
    return { ok: false, failure: options.adapter.failure(response.status, text, response.headers) };
  } catch (error) {
    if (options.signal.aborted) throw abortError(options.signal);
    if (timedOut)
      return failure("upstream_timeout", `${options.provider} did not answer within ${options.timeoutMs} ms`);
    const reason = error instanceof Error ? error.message : "connection failed";
    return failure("upstream_error", `${options.provider} is unreachable: ${reason}`);
  } finally {
    if (timer) clearTimeout(timer);
  }
}

/**
 * Read a JSON body; one that does not parse counts as a retryable upstream failure. A read cut by the request's
 * own end (client gone, total timeout) is not the upstream's fault: it throws that, as an attempt does.
 */
export async function readJsonBody(
  call: UpstreamCall,
  provider: string,
  signal: AbortSignal,
): Promise<AttemptResult<unknown>> {
  try {
    return { ok: true, value: await call.response.json() };
  } catch {
    if (signal.aborted) throw abortError(signal);
    return failure("upstream_error", `${provider} sent a response that is not JSON`);
  }
}
