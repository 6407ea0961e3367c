import type { UpstreamHttpRequest } from "../../providers/types.ts";
import { Http1Client, type UpstreamResponse } from "./http1.ts";

export type { UpstreamResponse } from "./http1.ts";

/**
 * `auto`: plain-HTTP upstreams through the HTTP/1.1 client while few calls are waiting for their answer,
 * through `fetch` beyond; `http1`: plain-HTTP upstreams always through the HTTP/1.1 client; `fetch`: every
 * call through `fetch`. HTTPS always goes through `fetch`.
 */
export type UpstreamClientMode = "auto" | "http1" | "fetch";

/** In `auto`, calls waiting for their status line beyond which new calls go through `fetch`. */
export const HTTP1_MAX_WAITING = 4;

/**
 * How the router reaches providers. `fetch` (Bun's) serves HTTPS and proxies (`HTTP_PROXY`, which it honours).
 * For plain-HTTP upstreams (a local Ollama, vLLM, LM Studio, an in-cluster gateway) the two clients trade:
 * `Http1Client` answers sooner (no hop to fetch's own thread: ~0.1 ms less added latency at concurrency 1 on
 * the dev machine), while `fetch` writes and reads its sockets on that thread, which under load leaves the
 * main thread to the requests (the upstream socket writes were ~9 % of the main thread's time at
 * concurrency 32). So `auto` takes the HTTP/1.1 client while few calls wait for an answer and fetch beyond.
 */
export class UpstreamClient {
  private readonly http1: Http1Client | null;
  private readonly maxWaiting: number;
  private waiting = 0;

  constructor(mode: UpstreamClientMode, env: Record<string, string | undefined> = process.env) {
    const proxied = Boolean(env.HTTP_PROXY || env.http_proxy);
    this.http1 = mode !== "fetch" && !proxied ? new Http1Client() : null;
    this.maxWaiting = mode === "http1" ? Number.POSITIVE_INFINITY : HTTP1_MAX_WAITING;
  }

  async post(request: UpstreamHttpRequest, signal: AbortSignal): Promise<UpstreamResponse> {
    this.waiting++;
    try {
      if (this.http1 && this.waiting <= this.maxWaiting && request.url.startsWith("http:")) {
        const answer = await this.http1.post(new URL(request.url), request.headers, request.body, signal);
        // Redirects are fetch's to follow (307/308 re-send the POST), whichever client took the call.
        if (!Http1Client.isRedirect(answer)) return answer;
        await answer.text();
      }
      const response = await fetch(request.url, {
        method: "POST",
        headers: request.headers,
        body: request.body,
        signal,
      });
      return fromFetch(response);
    } finally {
      this.waiting--;
    }
  }

  close(): void {
    this.http1?.close();
  }
}

/** A fetch `Response` as an UpstreamResponse. */
export function fromFetch(response: Response): UpstreamResponse {
  let reader: ReadableStreamDefaultReader<Uint8Array> | null = null;
  return {
    status: response.status,
    ok: response.ok,
    headers: response.headers,
    text: () => response.text(),
    json: () => response.json(),
    read: async () => {
      reader ??= response.body?.getReader() ?? null;
      if (!reader) return null;
      const { done, value } = await reader.read();
      return done ? null : value;
    },
  };
}
