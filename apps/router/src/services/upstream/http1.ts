import type { Socket } from "bun";

/** An upstream's answer as the router reads it: status and headers first, then the body once or piecewise. */
export interface UpstreamResponse {
  readonly status: number;
  readonly ok: boolean;
  readonly headers: Headers;
  /** The whole body as text (decoded as UTF-8). */
  text(): Promise<string>;
  /** The whole body parsed as JSON; rejects when it is not JSON. */
  json(): Promise<unknown>;
  /** The body's next bytes as they arrive; null at its end. Rejects when the connection broke off. */
  read(): Promise<Uint8Array | null>;
}

export interface Http1Options {
  /** A kept-alive connection unused this long is closed (below the usual 5 s server keep-alive). */
  idleMs?: number;
  /** Most idle connections kept per origin; more are closed when released. */
  maxIdlePerOrigin?: number;
  /** Most bytes of a status line and headers. */
  maxHeadBytes?: number;
}

const DEFAULTS = { idleMs: 4_000, maxIdlePerOrigin: 256, maxHeadBytes: 64 * 1024 } as const;
const CRLF = 0x0d0a;
const encoder = new TextEncoder();
const decoder = new TextDecoder();
// Header bytes are Latin-1 (as fetch reads them), one character per byte.
const headDecoder = new TextDecoder("latin1");
const REDIRECTS = new Set([301, 302, 303, 307, 308]);
const FORBIDDEN_HEADERS = new Set([
  "host",
  "content-length",
  "connection",
  "transfer-encoding",
  "keep-alive",
]);
const HEADER_SAFE = /^[^\r\n]*$/;

export class UpstreamConnectionError extends Error {
  override readonly name = "UpstreamConnectionError";
}

/**
 * A keep-alive HTTP/1.1 client for plain-HTTP upstreams, on Bun's TCP sockets: one write per request, the
 * response parsed as it arrives (Content-Length, chunked, or until close), the connection back in its origin's
 * pool when the response ended. Against `fetch` it saves the work of building Request, Response and web
 * streams per call: ~40-80 µs at concurrency 1 on the dev machine (see bench/router).
 *
 * A connection that breaks is an error, never retried here: the router's routing layer decides whether to retry
 * or fall back (a POST to an LLM may have been processed). Idle connections are closed after `idleMs`, below
 * the usual server keep-alive, so that a server rarely closes one under a new request. Bodies are buffered, not back-pressured:
 * an LLM's answer is small and slow next to a socket. HTTPS and proxies are not for this client (see
 * `UpstreamClient`).
 */
export class Http1Client {
  private readonly idle = new Map<string, Connection[]>();
  private readonly options: Required<Http1Options>;
  private readonly sweeper: ReturnType<typeof setInterval>;
  private closed = false;

  constructor(options: Http1Options = {}) {
    this.options = { ...DEFAULTS, ...options };
    this.sweeper = setInterval(() => this.sweep(Date.now()), Math.max(250, this.options.idleMs / 2));
    this.sweeper.unref?.();
  }

  /** POSTs `body`; resolves once the status line and headers arrived. */
  async post(
    url: URL,
    headers: Record<string, string>,
    body: string,
    signal?: AbortSignal,
  ): Promise<UpstreamResponse> {
    if (url.protocol !== "http:")
      throw new TypeError(`Http1Client speaks plain HTTP only, not ${url.protocol}`);
    signal?.throwIfAborted();
    const payload = requestBytes(url, headers, body);
    const connection = this.take(url.host) ?? (await this.connect(url, signal));
    return connection.exchange(payload, signal);
  }

  /** Whether fetch would have followed this answer (the HTTP/1.1 client does not follow redirects). */
  static isRedirect(response: UpstreamResponse): boolean {
    return REDIRECTS.has(response.status) && response.headers.has("location");
  }

  /** Idle connections, all origins (for tests and metrics). */
  get idleConnections(): number {
    let n = 0;
    for (const list of this.idle.values()) n += list.length;
    return n;
  }

  close(): void {
    this.closed = true;
    clearInterval(this.sweeper);
    for (const list of this.idle.values()) for (const connection of list.splice(0)) connection.destroy();
    this.idle.clear();
  }

  private take(host: string): Connection | undefined {
    const list = this.idle.get(host);
    const now = Date.now();
    for (let connection = list?.pop(); connection; connection = list?.pop()) {
      if (this.fresh(connection, now)) return connection;
      connection.destroy();
    }
    return undefined;
  }

  /** Open, and idle for less than our limit and than the server's `Keep-Alive: timeout` (minus a second). */
  private fresh(connection: Connection, now: number): boolean {
    const limit = Math.min(this.options.idleMs, connection.serverIdleMs);
    return connection.usable && now - connection.idleSince < limit;
  }

  private release(connection: Connection): void {
    const list = this.idle.get(connection.host) ?? [];
    if (this.closed || list.length >= this.options.maxIdlePerOrigin) {
      connection.destroy();
      return;
    }
    connection.idleSince = Date.now();
    list.push(connection);
    this.idle.set(connection.host, list);
  }

  private forget(connection: Connection): void {
    const list = this.idle.get(connection.host);
    const at = list?.indexOf(connection) ?? -1;
    if (list && at >= 0) list.splice(at, 1);
  }

  private sweep(now: number): void {
    for (const [host, list] of [...this.idle]) {
      // destroy() closes at once, and the close removes the connection from `list`: iterate a copy.
      for (const connection of list.filter((c) => !this.fresh(c, now))) {
        this.forget(connection);
        connection.destroy();
      }
      if (list.length === 0) this.idle.delete(host);
    }
  }

  private async connect(url: URL, signal?: AbortSignal): Promise<Connection> {
    const connection = new Connection(url.host, this.options.maxHeadBytes, {
      release: (c) => this.release(c),
      forget: (c) => this.forget(c),
    });
    const opening = connection.open(url.hostname.replace(/^\[|\]$/g, ""), Number(url.port || 80));
    try {
      await (signal ? untilAborted(opening, signal) : opening);
    } catch (error) {
      if (signal?.aborted) {
        // A connect that lands after the abort is closed at once.
        opening.then(
          () => connection.destroy(),
          () => undefined,
        );
        throw abortReason(signal);
      }
      const code = (error as { code?: unknown } | null)?.code;
      const reason = error instanceof Error ? error.message : String(error);
      throw new UpstreamConnectionError(
        `cannot connect to ${url.host}: ${reason}${typeof code === "string" ? ` (${code})` : ""}`,
      );
    }
    return connection;
  }
}

/** `work`, or the signal's abort reason as soon as it aborts. */
function untilAborted<T>(work: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(abortReason(signal));
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(abortReason(signal));
    signal.addEventListener("abort", onAbort, { once: true });
    work.then(resolve, reject).finally(() => signal.removeEventListener("abort", onAbort));
  });
}

/** The request line, headers and body, as one buffer for one write. */
function requestBytes(url: URL, headers: Record<string, string>, body: string): Uint8Array {
  const bodyBytes = encoder.encode(body);
  let head = `POST ${url.pathname}${url.search} HTTP/1.1\r\nhost: ${url.host}\r\n`;
  // Credentials in the base URL are sent as Basic auth, as fetch does.
  if (
    (url.username || url.password) &&
    !Object.keys(headers).some((h) => h.toLowerCase() === "authorization")
  ) {
    const credentials = `${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}`;
    head += `authorization: Basic ${Buffer.from(credentials).toString("base64")}\r\n`;
  }
  for (const name in headers) {
    const value = headers[name] ?? "";
    if (FORBIDDEN_HEADERS.has(name.toLowerCase())) continue;
    if (!HEADER_SAFE.test(name) || !HEADER_SAFE.test(value))
      throw new TypeError(`header ${JSON.stringify(name)} contains a line break`);
    head += `${name}: ${value}\r\n`;
  }
  head += `content-length: ${bodyBytes.byteLength}\r\n\r\n`;
  const headBytes = encoder.encode(head);
  const out = new Uint8Array(headBytes.byteLength + bodyBytes.byteLength);
  out.set(headBytes, 0);
  out.set(bodyBytes, headBytes.byteLength);
  return out;
}

type Framing =
  | { kind: "length"; remaining: number }
  | { kind: "chunked"; state: "size" | "data" | "data-end" | "trailers"; remaining: number }
  | { kind: "close" };

interface Pool {
  release(connection: Connection): void;
  forget(connection: Connection): void;
}

/** One socket and the one exchange in flight on it. */
class Connection {
  idleSince = 0;
  /** The server's `Keep-Alive: timeout` less a second, when it said one. */
  serverIdleMs = Number.POSITIVE_INFINITY;
  private socket: Socket<undefined> | null = null;
  private pending: Uint8Array | null = null;
  private unwritten: Uint8Array | null = null;
  private response: Http1Response | null = null;
  private waiting: { resolve: (r: Http1Response) => void; reject: (e: Error) => void } | null = null;
  private framing: Framing | null = null;
  private keepAlive = true;
  private dead = false;
  private onAbort: (() => void) | null = null;
  private signal: AbortSignal | undefined;

  constructor(
    readonly host: string,
    private readonly maxHeadBytes: number,
    private readonly pool: Pool,
  ) {}

  get usable(): boolean {
    return !this.dead && this.socket !== null;
  }

  async open(hostname: string, port: number): Promise<void> {
    this.socket = await Bun.connect({
      hostname,
      port,
      socket: {
        data: (_socket, data) => this.onData(data),
        drain: () => this.flushUnwritten(),
        // Bun reports a reset only here, as the second argument.
        close: (_socket, error) => this.onClose(error ?? null),
        end: () => this.onClose(null),
        error: (_socket, error) => this.onClose(error),
      },
    });
    this.socket.setNoDelay?.(true);
  }

  exchange(payload: Uint8Array, signal?: AbortSignal): Promise<Http1Response> {
    this.keepAlive = true;
    this.framing = null;
    this.pending = null;
    this.unwritten = null;
    return new Promise<Http1Response>((resolve, reject) => {
      this.waiting = { resolve, reject };
      this.response = null;
      if (signal?.aborted) {
        this.fail(abortReason(signal));
        return;
      }
      if (signal) {
        this.signal = signal;
        this.onAbort = () => this.fail(abortReason(signal));
        signal.addEventListener("abort", this.onAbort, { once: true });
      }
      if (this.dead || !this.socket) {
        this.fail(new UpstreamConnectionError("connection closed"));
        return;
      }
      this.write(payload);
    });
  }

  destroy(): void {
    this.dead = true;
    this.socket?.terminate();
  }

  private write(bytes: Uint8Array): void {
    const socket = this.socket;
    if (!socket) return;
    const written = socket.write(bytes);
    if (written < bytes.byteLength) this.unwritten = bytes.subarray(Math.max(0, written));
  }

  private flushUnwritten(): void {
    const rest = this.unwritten;
    this.unwritten = null;
    if (rest) this.write(rest);
  }

  private onData(data: Uint8Array): void {
    try {
      let bytes = this.pending ? concat(this.pending, data) : data;
      this.pending = null;
      for (;;) {
        const framing = this.framing;
        if (!framing) {
          if (!this.waiting) {
            // Bytes nobody asked for: the connection is out of step and must not be reused.
            if (bytes.byteLength > 0) this.destroy();
            return;
          }
          if (bytes.byteLength === 0) return;
          const consumed = this.parseHead(bytes);
          if (consumed < 0) {
            if (bytes.byteLength > this.maxHeadBytes)
              throw new UpstreamConnectionError("response head too large");
            this.pending = bytes.slice();
            return;
          }
          bytes = bytes.subarray(consumed);
          continue;
        }
        if (framing.kind === "length" && framing.remaining === 0) {
          this.finish();
          continue;
        }
        if (bytes.byteLength === 0) return;
        const consumed = this.parseBody(framing, bytes);
        if (consumed < 0) {
          this.pending = bytes.slice();
          return;
        }
        bytes = bytes.subarray(consumed);
      }
    } catch (error) {
      this.fail(error instanceof Error ? error : new UpstreamConnectionError(String(error)));
    }
  }

  /** Parses the status line and headers; -1 while incomplete. Skips 1xx answers. */
  private parseHead(bytes: Uint8Array): number {
    const end = indexOfHeadEnd(bytes);
    if (end < 0) return -1;
    const lines = headDecoder.decode(bytes.subarray(0, end)).split("\r\n");
    const statusLine = /^HTTP\/1\.([01]) (\d{3})/.exec(lines[0] ?? "");
    if (!statusLine)
      throw new UpstreamConnectionError(`not an HTTP/1.x response: ${(lines[0] ?? "").slice(0, 40)}`);
    const status = Number(statusLine[2]);
    const consumed = end + 4;
    if (status >= 100 && status < 200) return consumed;
    const pairs: [string, string][] = [];
    let length: number | null = null;
    let codings: string | null = null;
    this.keepAlive = statusLine[1] === "1";
    for (let i = 1; i < lines.length; i++) {
      const line = lines[i] ?? "";
      const colon = line.indexOf(":");
      if (colon <= 0) continue;
      const name = line.slice(0, colon).trim().toLowerCase();
      const value = line.slice(colon + 1).trim();
      pairs.push([name, value]);
      if (name === "content-length") {
        if (!/^\d+$/.test(value) || (length !== null && length !== Number(value)))
          throw new UpstreamConnectionError(`invalid content-length: ${value.slice(0, 40)}`);
        length = Number(value);
      } else if (name === "transfer-encoding") codings = codings === null ? value : `${codings}, ${value}`;
      else if (name === "connection") {
        const tokens = value.toLowerCase();
        if (tokens.includes("close")) this.keepAlive = false;
        else if (tokens.includes("keep-alive")) this.keepAlive = true;
      } else if (name === "keep-alive") {
        const timeout = /timeout=(\d+)/i.exec(value)?.[1];
        if (timeout) this.serverIdleMs = Math.max(0, Number(timeout) * 1000 - 1000);
      }
    }
    // A transfer coding overrides any length; the body is chunked only if chunked is its last coding.
    const chunked = codings !== null && codings.toLowerCase().split(",").at(-1)?.trim() === "chunked";
    if (codings !== null) length = null;
    const response = new Http1Response(status, pairs);
    this.response = response;
    if (status === 204 || status === 304) this.framing = { kind: "length", remaining: 0 };
    else if (chunked) this.framing = { kind: "chunked", state: "size", remaining: 0 };
    else if (length !== null && Number.isSafeInteger(length))
      this.framing = { kind: "length", remaining: length };
    else {
      this.framing = { kind: "close" };
      this.keepAlive = false;
    }
    const waiting = this.waiting;
    this.waiting = null;
    waiting?.resolve(response);
    return consumed;
  }

  /** Feeds body bytes to the response; returns bytes consumed, -1 when more are needed first. */
  private parseBody(framing: Framing, bytes: Uint8Array): number {
    const response = this.response;
    if (!response) return bytes.byteLength;
    if (framing.kind === "close") {
      response.push(bytes.slice());
      return bytes.byteLength;
    }
    if (framing.kind === "length") {
      const take = Math.min(framing.remaining, bytes.byteLength);
      if (take > 0) response.push(bytes.slice(0, take));
      framing.remaining -= take;
      return take;
    }
    let at = 0;
    while (at < bytes.byteLength && this.framing === framing) {
      if (framing.state === "data") {
        const take = Math.min(framing.remaining, bytes.byteLength - at);
        response.push(bytes.slice(at, at + take));
        at += take;
        framing.remaining -= take;
        if (framing.remaining === 0) framing.state = "data-end";
        continue;
      }
      const lineEnd = indexOfCrlf(bytes, at);
      if (lineEnd < 0) {
        if (bytes.byteLength - at > 4096) throw new UpstreamConnectionError("chunk header too long");
        return at === 0 ? -1 : at;
      }
      const line = decoder.decode(bytes.subarray(at, lineEnd));
      at = lineEnd + 2;
      if (framing.state === "data-end") {
        if (line !== "") throw new UpstreamConnectionError("malformed chunk end");
        framing.state = "size";
      } else if (framing.state === "size") {
        const digits = (line.split(";")[0] ?? "").trim();
        const size = /^[0-9a-fA-F]{1,12}$/.test(digits) ? Number.parseInt(digits, 16) : Number.NaN;
        if (!Number.isSafeInteger(size)) throw new UpstreamConnectionError("malformed chunk size");
        if (size === 0) framing.state = "trailers";
        else {
          framing.state = "data";
          framing.remaining = size;
        }
      } else if (line === "") {
        this.finish();
      }
    }
    return at;
  }

  /** The answer ended: the response is complete and the connection goes back to its pool. */
  private finish(): void {
    const response = this.response;
    this.response = null;
    this.framing = null;
    this.detachSignal();
    response?.end();
    // An answer that came before the whole request was written (a 413, a 401) leaves the socket mid-body.
    if (!this.keepAlive || this.dead || this.unwritten) {
      this.destroy();
      return;
    }
    // Back to the pool on the next turn of the event loop, so that a close the server sent right after its
    // answer is seen first and the connection is not handed to a new request as it goes.
    setImmediate(() => {
      if (!this.dead) this.pool.release(this);
    });
  }

  private onClose(error: Error | null): void {
    const wasDead = this.dead;
    this.dead = true;
    this.pool.forget(this);
    if (this.framing?.kind === "close" && this.response && !error) {
      this.framing = null;
      const response = this.response;
      this.response = null;
      this.detachSignal();
      response.end();
    } else if (this.waiting || this.response)
      this.fail(
        new UpstreamConnectionError(
          error ? error.message : wasDead ? "connection aborted" : "connection closed by the upstream",
        ),
      );
    // The peer's half-close (`end`) leaves our side open otherwise.
    if (!wasDead) this.socket?.terminate();
  }

  private fail(error: Error): void {
    this.detachSignal();
    const waiting = this.waiting;
    const response = this.response;
    this.waiting = null;
    this.response = null;
    this.framing = null;
    this.destroy();
    waiting?.reject(error);
    response?.fail(error);
  }

  private detachSignal(): void {
    if (this.signal && this.onAbort) this.signal.removeEventListener("abort", this.onAbort);
    this.signal = undefined;
    this.onAbort = null;
  }
}

function abortReason(signal: AbortSignal): Error {
  const reason: unknown = signal.reason;
  return reason instanceof Error ? reason : new DOMException("The operation was aborted.", "AbortError");
}

/** A response whose body arrives chunk by chunk from its connection. */
class Http1Response implements UpstreamResponse {
  readonly ok: boolean;
  private chunks: Uint8Array[] = [];
  private ended = false;
  private error: Error | null = null;
  private reader: { resolve: (c: Uint8Array | null) => void; reject: (e: Error) => void } | null = null;
  private parsedHeaders: Headers | null = null;

  constructor(
    readonly status: number,
    private readonly pairs: [string, string][],
  ) {
    this.ok = status >= 200 && status < 300;
  }

  get headers(): Headers {
    if (!this.parsedHeaders) {
      const headers = new Headers();
      for (const [name, value] of this.pairs) {
        try {
          headers.append(name, value);
        } catch {
          // A header fetch would not accept either (an invalid name or value) is left out, not fatal.
        }
      }
      this.parsedHeaders = headers;
    }
    return this.parsedHeaders;
  }

  push(chunk: Uint8Array): void {
    const reader = this.reader;
    if (reader) {
      this.reader = null;
      reader.resolve(chunk);
    } else this.chunks.push(chunk);
  }

  end(): void {
    this.ended = true;
    const reader = this.reader;
    this.reader = null;
    reader?.resolve(null);
  }

  fail(error: Error): void {
    if (this.ended) return;
    this.error = error;
    const reader = this.reader;
    this.reader = null;
    reader?.reject(error);
  }

  read(): Promise<Uint8Array | null> {
    const next = this.chunks.shift();
    if (next) return Promise.resolve(next);
    if (this.error) return Promise.reject(this.error);
    if (this.ended) return Promise.resolve(null);
    return new Promise((resolve, reject) => {
      this.reader = { resolve, reject };
    });
  }

  async text(): Promise<string> {
    const parts: Uint8Array[] = [];
    for (let chunk = await this.read(); chunk; chunk = await this.read()) parts.push(chunk);
    return decoder.decode(concatAll(parts));
  }

  async json(): Promise<unknown> {
    return JSON.parse(await this.text());
  }
}

function indexOfHeadEnd(bytes: Uint8Array): number {
  for (let i = 0; i + 3 < bytes.byteLength; i++)
    if (bytes[i] === 13 && bytes[i + 1] === 10 && bytes[i + 2] === 13 && bytes[i + 3] === 10) return i;
  return -1;
}

function indexOfCrlf(bytes: Uint8Array, from: number): number {
  for (let i = from; i + 1 < bytes.byteLength; i++)
    if (((bytes[i] ?? 0) << 8) + (bytes[i + 1] ?? 0) === CRLF) return i;
  return -1;
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.byteLength + b.byteLength);
  out.set(a, 0);
  out.set(b, a.byteLength);
  return out;
}

function concatAll(parts: Uint8Array[]): Uint8Array {
  if (parts.length === 1 && parts[0]) return parts[0];
  let size = 0;
  for (const part of parts) size += part.byteLength;
  const out = new Uint8Array(size);
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.byteLength;
  }
  return out;
}
