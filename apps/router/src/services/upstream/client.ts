import type { UpstreamHttpRequest } from "../../providers/types.ts";
import { Http1Client, type UpstreamResponse } from "./http1.ts";

export type { UpstreamResponse } from "./http1.ts";

/** `auto`: plain-HTTP upstreams through the keep-alive HTTP/1.1 client, everything else through `fetch`. */
export type UpstreamClientMode = "auto" | "fetch";

/**
 * How the router reaches providers. `fetch` (Bun's) serves HTTPS, proxies (`HTTP_PROXY`/`HTTPS_PROXY`, which it
 * honours) and anything else; plain-HTTP upstreams (a local Ollama, vLLM, LM Studio, an in-cluster gateway)
 * go through `Http1Client`, which costs less per call, unless a proxy is configured for them or the mode
 * is `fetch`.
 */
export class UpstreamClient {
  private readonly http1: Http1Client | null;

  constructor(mode: UpstreamClientMode, env: Record<string, string | undefined> = process.env) {
    const proxied = Boolean(env.HTTP_PROXY || env.http_proxy);
    this.http1 = mode === "auto" && !proxied ? new Http1Client() : null;
  }

  async post(request: UpstreamHttpRequest, signal: AbortSignal): Promise<UpstreamResponse> {
    if (this.http1 && request.url.startsWith("http:"))
      return this.http1.post(new URL(request.url), request.headers, request.body, signal);
    const response = await fetch(request.url, {
      method: "POST",
      headers: request.headers,
      body: request.body,
      signal,
    });
    return fromFetch(response);
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
