import { AppError } from "@cloudfreedom/shared";
import PocketBase, { BaseAuthStore, ClientResponseError, getTokenPayload } from "pocketbase";
import { toAppError } from "./errors.ts";

/** The slice of a pino logger this package uses; pino's `Logger` satisfies it. */
export interface DbLogger {
  info(fields: Record<string, unknown>, message: string): void;
  warn(fields: Record<string, unknown>, message: string): void;
}

export interface PocketBaseOptions {
  url: string;
  adminEmail: string;
  adminPassword: string;
  logger?: DbLogger;
  /** Re-authenticate when the session token expires within this many seconds. Default 300. */
  refreshBeforeExpirySeconds?: number;
  /** Abort a single call after this long. Default 15 000 ms. */
  requestTimeoutMs?: number;
}

export interface PocketBaseClient {
  readonly url: string;
  /** The SDK instance. Prefer `call`, which adds the session handling and error mapping. */
  readonly pb: PocketBase;
  /** Runs `fn` with a valid superuser session; re-auths once and retries on a refused session. Throws AppError. */
  call<T>(fn: (pb: PocketBase) => Promise<T>): Promise<T>;
  /** Like `call` but rethrows the SDK's ClientResponseError unmapped (for callers that inspect the body). */
  callRaw<T>(fn: (pb: PocketBase) => Promise<T>): Promise<T>;
  /** Binds `{:name}` placeholders safely (the SDK's `pb.filter`). */
  filter(raw: string, params?: Record<string, unknown>): string;
  /** Forces a new superuser login. Concurrent callers share one login request. */
  authenticate(): Promise<void>;
  /** GET /api/health: true when PocketBase answers 200 within `timeoutMs`. Never throws. */
  ping(timeoutMs?: number): Promise<boolean>;
}

/** Seconds until the token's `exp`, or -Infinity when there is no usable token. */
function secondsLeft(token: string): number {
  if (!token) return Number.NEGATIVE_INFINITY;
  const exp = getTokenPayload(token).exp;
  return typeof exp === "number" ? exp - Date.now() / 1000 : Number.NEGATIVE_INFINITY;
}

/**
 * PocketBase answers a stale or invalid superuser token on a superuser-only collection with 403 (it drops the
 * token and treats the caller as a guest), and with 401 on auth endpoints. Both mean: log in again.
 */
function isRefusedSession(error: unknown): error is ClientResponseError {
  return error instanceof ClientResponseError && (error.status === 401 || error.status === 403);
}

export function createPocketBase(options: PocketBaseOptions): PocketBaseClient {
  const url = options.url.replace(/\/+$/, "");
  const refreshBefore = options.refreshBeforeExpirySeconds ?? 300;
  const timeoutMs = options.requestTimeoutMs ?? 15_000;
  // In-memory session: the SDK's default store would persist the token to localStorage where one exists.
  const pb = new PocketBase(url, new BaseAuthStore());
  // Server use: concurrent identical requests must not cancel each other (the SDK's browser default).
  pb.autoCancellation(false);
  pb.beforeSend = (requestUrl, sendOptions) => {
    if (!sendOptions.signal) sendOptions.signal = AbortSignal.timeout(timeoutMs);
    return { url: requestUrl, options: sendOptions };
  };

  let pending: Promise<void> | null = null;

  function authenticate(): Promise<void> {
    if (!pending) {
      pending = pb
        .collection("_superusers")
        .authWithPassword(options.adminEmail, options.adminPassword)
        .then(
          () => options.logger?.info({ url }, "pocketbase superuser session established"),
          (error: unknown) => {
            // A refused login is an operator problem; it must not surface as the caller's validation error.
            if (error instanceof ClientResponseError && error.status !== 0) {
              const refused = new AppError("internal_error", "PocketBase superuser login failed.");
              refused.cause = error;
              throw refused;
            }
            throw error;
          },
        )
        .finally(() => {
          pending = null;
        });
    }
    return pending;
  }

  async function callRaw<T>(fn: (pb: PocketBase) => Promise<T>): Promise<T> {
    if (pending) await pending;
    else if (secondsLeft(pb.authStore.token) < refreshBefore) await authenticate();
    const token = pb.authStore.token;
    try {
      return await fn(pb);
    } catch (error) {
      if (!isRefusedSession(error)) throw error;
      options.logger?.warn({ url, status: error.status }, "pocketbase session refused, re-authenticating");
      // Another call may already have replaced the token while this one was in flight.
      if (pb.authStore.token === token) await authenticate();
      else if (pending) await pending;
      return fn(pb);
    }
  }

  async function call<T>(fn: (pb: PocketBase) => Promise<T>): Promise<T> {
    try {
      return await callRaw(fn);
    } catch (error) {
      throw toAppError(error);
    }
  }

  async function ping(pingTimeoutMs = 1_000): Promise<boolean> {
    try {
      const response = await fetch(`${url}/api/health`, { signal: AbortSignal.timeout(pingTimeoutMs) });
      await response.body?.cancel();
      return response.ok;
    } catch {
      return false;
    }
  }

  return {
    url,
    pb,
    call,
    callRaw,
    filter: (raw, params) => pb.filter(raw, params),
    authenticate,
    ping,
  };
}
