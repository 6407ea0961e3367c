import type { IncomingHttpHeaders } from "node:http";
import type { Behaviour } from "./behaviour.ts";

export type ProviderName = "openai" | "anthropic" | "gemini" | "ollama";

/** One request as the emulator received it. `body` is the parsed JSON (undefined when there was none). */
export interface RecordedRequest {
  method: string;
  /** Path without the query string, percent-decoded. */
  path: string;
  query: Record<string, string>;
  headers: IncomingHttpHeaders;
  body: unknown;
}

export type ResponseHeaders = Record<string, string>;

export type Reply =
  | { kind: "json"; status: number; body: unknown; headers?: ResponseHeaders }
  | { kind: "text"; status: number; body: string; contentType: string }
  | {
      kind: "stream";
      contentType: string;
      /** Wire frames, each one complete SSE event or NDJSON line. */
      frames: string[];
      /** The provider's in-stream error frame, sent by `failAfterChunks` in `error-event` mode. */
      errorFrame: string;
      /** The error frame when nothing preceded it, for formats where that differs (a JSON array opens with `[`). */
      firstErrorFrame?: string;
      headers?: ResponseHeaders;
    };

/** Shared per-emulator state a route can use while answering. */
export interface RouteContext {
  /** A number unique within this emulator, for ids. */
  nextSequence(): number;
}

export interface Route {
  /** Authentication and validation. A reply here answers the request before any behaviour is consumed. */
  check?(request: RecordedRequest): Reply | undefined;
  respond(request: RecordedRequest, behaviour: Behaviour, context: RouteContext): Reply;
}

/** The thin per-provider layer the generic server runs. */
export interface ProviderFormat {
  provider: ProviderName;
  /** The expected key ("" when the provider needs none). */
  apiKey: string;
  resolve(method: string, path: string): Route | undefined;
  notFound(request: RecordedRequest): Reply;
  invalidJson(request: RecordedRequest): Reply;
  /** The provider-shaped error for an injected status (`body` overrides the default payload). */
  injectedError(status: number, request: RecordedRequest, body: unknown): Reply;
  /** Forgets what the format keeps between requests (Anthropic's prompt cache), on the handle's `reset`. */
  reset?(): void;
}

export interface EmulatorCounts {
  /** Requests received. */
  requests: number;
  /** Requests answered with a stream. */
  streams: number;
  /** Requests that got an injected failure (status, disconnect, hang, mid-stream failure). */
  injected: number;
  /** Requests whose client went away before the response finished. */
  aborted: number;
}

export interface EmulatorHandle {
  readonly provider: ProviderName;
  /** `http://127.0.0.1:<port>`, no trailing slash. */
  readonly url: string;
  readonly port: number;
  /** The key the emulator accepts ("" for Ollama, which takes none). */
  readonly apiKey: string;
  /** Every request received, oldest first (empty when started with `record: false`). */
  readonly requests: readonly RecordedRequest[];
  readonly counts: Readonly<EmulatorCounts>;
  /** Shorthand for `counts.aborted`. */
  readonly aborted: number;
  /** Apply `behaviour` to the next `times` requests (default 1), after anything already queued. */
  enqueue(behaviour: Behaviour, times?: number): void;
  /** Apply `behaviour` whenever the queue is empty; no argument restores normal answers. */
  setDefault(behaviour?: Behaviour): void;
  /** Forget recorded requests, counters, queued behaviours and the default. */
  reset(): void;
  stop(): Promise<void>;
}

export interface EmulatorOptions {
  /** Port to listen on; default a free one. */
  port?: number;
  /** Expected key; each emulator has a fixed default. */
  apiKey?: string;
  /** Keep `requests` (default true). Counters are kept either way. */
  record?: boolean;
  /** Length of embedding vectors when the request does not say (default 64). */
  embeddingDimensions?: number;
}
