import { isRecord, tryJson } from "../../providers/common.ts";
import { type ChatStreamTransform, UpstreamStreamError } from "../../providers/types.ts";
import { type AttemptResult, abortError } from "../routing/execute.ts";
import type { UpstreamCall } from "./call.ts";

/**
 * An upstream stream read through its transform on demand: `next` reads only until the transform has
 * something for the client, so the client's pace sets the upstream's (through fetch; the HTTP/1.1 client of
 * plain-HTTP upstreams buffers what arrives, which an LLM's slow answer keeps small). A broken connection is an
 * UpstreamStreamError like a provider's own error event.
 */
export class TransformedStream {
  /** The upstream ended and the transform was flushed. */
  done = false;
  private readonly decoder = new TextDecoder();
  /** The longest wait for the upstream's next bytes once `watchIdle` ran (0: not watched). */
  private idleMs = 0;
  private idleTimer: ReturnType<typeof setTimeout> | null = null;
  /** When the wait for the client's next chunks began (ms epoch); null while none is pending. */
  private waitingSince: number | null = null;
  /** The idle watch aborted the upstream: that, not the provider, ended the stream. */
  private idled = false;

  constructor(
    private readonly upstream: UpstreamCall,
    readonly transform: ChatStreamTransform,
    private readonly provider: string,
  ) {}

  /** The next chunks for the client: at least one, or whatever the transform flushed at the upstream's end. */
  async next(): Promise<string[]> {
    // The idle wait runs until the transform has something for the client: bytes that give it nothing
    // (pings, keep-alive comments) do not count as progress.
    if (this.idleMs > 0) this.waitingSince = Date.now();
    try {
      for (;;) {
        const bytes = await this.read();
        if (bytes === null) {
          this.done = true;
          const rest = this.transform.push(this.decoder.decode());
          return [...rest, ...this.transform.end()];
        }
        const chunks = this.transform.push(this.decoder.decode(bytes, { stream: true }));
        if (chunks.length > 0) return chunks;
      }
    } finally {
      this.waitingSince = null;
    }
  }

  /**
   * From now on, an upstream that sends nothing for `ms` while we wait for it (a stalled provider) is cut,
   * and the stream ends with a 504 upstream_timeout. Time the client takes to read does not count. One timer
   * per stream, re-armed only when it fires: a read costs a clock read, not a timer.
   */
  watchIdle(ms: number): void {
    this.idleMs = ms;
    if (!this.done) this.idleTimer = setTimeout(this.checkIdle, ms);
  }

  /** Stop reading and close the upstream connection. */
  abort(): void {
    this.unwatch();
    this.upstream.abort();
  }

  private readonly checkIdle = (): void => {
    const since = this.waitingSince;
    const now = Date.now();
    if (since !== null && now - since >= this.idleMs) {
      this.idleTimer = null;
      this.idled = true;
      this.upstream.abort();
      return;
    }
    this.idleTimer = setTimeout(this.checkIdle, since === null ? this.idleMs : since + this.idleMs - now);
  };

  private unwatch(): void {
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.idleTimer = null;
  }

  /** The next bytes of the upstream body; `null` at its end. */
  private async read(): Promise<Uint8Array | null> {
    try {
      const bytes = await this.upstream.response.read();
      if (bytes === null) this.unwatch();
      return bytes;
    } catch (error) {
      this.unwatch();
      if (this.idled)
        throw new UpstreamStreamError({
          status: 504,
          code: "upstream_timeout",
          message: `${this.provider} sent nothing for the client for ${this.idleMs} ms mid-stream (STREAM_IDLE_TIMEOUT_MS)`,
          retryable: false,
          retryAfterMs: null,
          local: true,
        });
      const reason = error instanceof Error ? error.message : "unknown";
      throw new UpstreamStreamError({
        status: 502,
        code: "upstream_error",
        message: `${this.provider} stream broke off: ${reason}`,
        retryable: true,
        retryAfterMs: null,
        local: true,
      });
    }
  }
}

/** A stream whose first chunks are known; nothing of it has reached the client yet. */
export interface OpenedStream {
  stream: TransformedStream;
  /**
   * The transform's output up to its first chunk that carries content, in order (the role chunk first);
   * all of it when the upstream ended without any content (empty only when it ended without any chunk).
   */
  head: string[];
}

/**
 * Chunks without content held at most before a stream is committed anyway: a provider that keeps sending empty
 * deltas (keep-alives, filter results) is answering, and holding them longer would only grow the buffer.
 */
export const MAX_HELD_CHUNKS = 32;

const isEmpty = (value: unknown) =>
  value === null || value === undefined || value === "" || (Array.isArray(value) && value.length === 0);

/**
 * Whether a chat or text-completion chunk shows the client anything: text, a tool call, a refusal, reasoning,
 * a finish reason or usage. A role-only or empty delta does not. A chunk that is not JSON counts as content.
 */
export function carriesContent(chunk: string): boolean {
  const parsed = tryJson(chunk);
  if (!isRecord(parsed)) return true;
  if (!isEmpty(parsed.usage)) return true;
  const choices = Array.isArray(parsed.choices) ? parsed.choices : [];
  return choices.some((choice) => {
    if (!isRecord(choice)) return true;
    if (!isEmpty(choice.finish_reason) || !isEmpty(choice.text)) return true;
    const delta = isRecord(choice.delta) ? choice.delta : {};
    return Object.entries(delta).some(([field, value]) => field !== "role" && !isEmpty(value));
  });
}

/**
 * The commit point of a streamed call. A provider can answer 200 and then fail before any content
 * (Anthropic's `overloaded_error` event right after message_start and ping, an OpenAI-compatible
 * `{"error":…}` chunk after the role chunk, Gemini's error JSON): reading up to the first chunk that carries
 * content turns that into a failed attempt, which the routing layer retries or falls back from, and the
 * circuit breaker counts, exactly like a non-2xx answer. Role-only chunks before it are held and go out with
 * it; the first content chunk ends the wait at once, so a stream that answers is not delayed.
 */
export async function openStream(
  upstream: UpstreamCall,
  transform: ChatStreamTransform,
  provider: string,
  signal: AbortSignal,
): Promise<AttemptResult<OpenedStream>> {
  const stream = new TransformedStream(upstream, transform, provider);
  const head: string[] = [];
  try {
    for (;;) {
      const chunks = await stream.next();
      head.push(...chunks);
      if (stream.done || head.length >= MAX_HELD_CHUNKS || chunks.some(carriesContent))
        return { ok: true, value: { stream, head } };
    }
  } catch (error) {
    upstream.abort();
    if (signal.aborted) throw abortError(signal);
    if (error instanceof UpstreamStreamError) return { ok: false, failure: error.failure };
    throw error;
  }
}
