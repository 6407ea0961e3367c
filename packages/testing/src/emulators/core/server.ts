import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { type Behaviour, BehaviourQueue, NO_BEHAVIOUR } from "./behaviour.ts";
import type {
  EmulatorCounts,
  EmulatorHandle,
  EmulatorOptions,
  ProviderFormat,
  RecordedRequest,
  Reply,
  ResponseHeaders,
  Route,
  RouteContext,
} from "./types.ts";

const EMPTY_QUERY: Record<string, string> = Object.freeze({}) as Record<string, string>;

/** Per-request lifecycle flags: `closed` once the socket is gone, `cut` when the emulator cut it itself. */
interface Exchange {
  closed: boolean;
  cut: boolean;
}

function decodePath(path: string): string {
  if (!path.includes("%")) return path;
  try {
    return decodeURIComponent(path);
  } catch {
    return path;
  }
}

/** Destroys the TCP connection of a pending response (Bun answers an empty 200 to `res.destroy()` there). */
function destroyConnection(res: ServerResponse): void {
  if (res.socket) res.socket.destroy();
  else res.destroy();
}

function headersFor(contentType: string, own?: ResponseHeaders, injected?: ResponseHeaders): ResponseHeaders {
  const headers: ResponseHeaders = { "content-type": contentType };
  if (own) Object.assign(headers, own);
  if (injected) Object.assign(headers, injected);
  return headers;
}

/**
 * Runs a provider format as a real HTTP server on 127.0.0.1 (node:http, so it works under Node and Bun):
 * recording, counters, behaviour injection and streaming are here; the format only maps requests to replies.
 */
export function startEmulatorServer(
  format: ProviderFormat,
  options: EmulatorOptions = {},
): Promise<EmulatorHandle> {
  const record = options.record ?? true;
  const requests: RecordedRequest[] = [];
  const counts: EmulatorCounts = { requests: 0, streams: 0, injected: 0, aborted: 0 };
  const behaviours = new BehaviourQueue();
  const open = new Set<ServerResponse>();
  let sequence = 0;
  let stopping = false;
  const context: RouteContext = { nextSequence: () => ++sequence };

  function cut(res: ServerResponse, exchange: Exchange): void {
    exchange.cut = true;
    res.destroy();
  }

  function stream(
    res: ServerResponse,
    reply: Extract<Reply, { kind: "stream" }>,
    b: Behaviour,
    ex: Exchange,
  ) {
    counts.streams++;
    const headers = headersFor(reply.contentType, reply.headers, b.headers);
    headers["cache-control"] = "no-cache";
    res.writeHead(200, headers);
    const frames = reply.frames;
    const failAt = b.failAfterChunks;
    const limit = failAt === undefined ? frames.length : Math.max(0, Math.min(failAt, frames.length));
    const finish = (): void => {
      if (failAt === undefined) {
        res.end();
        return;
      }
      counts.injected++;
      if (b.mode === "stall") return;
      if (b.mode === "disconnect") setImmediate(() => cut(res, ex));
      else res.end(limit === 0 ? (reply.firstErrorFrame ?? reply.errorFrame) : reply.errorFrame);
    };
    const delay = b.chunkDelayMs ?? 0;
    if (delay <= 0) {
      if (limit === 0) {
        res.flushHeaders();
        finish();
      } else {
        const data = limit === frames.length ? frames.join("") : frames.slice(0, limit).join("");
        if (failAt !== undefined && b.mode === "disconnect") res.write(data, finish);
        else {
          res.write(data);
          finish();
        }
      }
      return;
    }
    let index = 0;
    const step = (): void => {
      if (ex.closed) return;
      if (index >= limit) {
        finish();
        return;
      }
      res.write(frames[index++] ?? "");
      setTimeout(step, delay);
    };
    res.flushHeaders();
    step();
  }

  function send(res: ServerResponse, reply: Reply, b: Behaviour, ex: Exchange): void {
    if (ex.closed) return;
    if (reply.kind === "stream") {
      stream(res, reply, b, ex);
      return;
    }
    const payload = reply.kind === "json" ? JSON.stringify(reply.body) : reply.body;
    const headers =
      reply.kind === "json"
        ? headersFor("application/json", reply.headers, b.headers)
        : headersFor(reply.contentType, undefined, b.headers);
    headers["content-length"] = String(Buffer.byteLength(payload));
    res.writeHead(reply.status, headers);
    res.end(payload);
  }

  function answer(res: ServerResponse, request: RecordedRequest, route: Route, b: Behaviour, ex: Exchange) {
    if (ex.closed) return;
    if (b.status !== undefined) {
      counts.injected++;
      send(res, format.injectedError(b.status, request, b.body), b, ex);
      return;
    }
    send(res, route.respond(request, b, context), b, ex);
  }

  function handle(req: IncomingMessage, res: ServerResponse, raw: string): void {
    counts.requests++;
    const url = req.url ?? "/";
    const q = url.indexOf("?");
    const path = decodePath(q === -1 ? url : url.slice(0, q));
    const query = q === -1 ? EMPTY_QUERY : Object.fromEntries(new URLSearchParams(url.slice(q + 1)));
    let body: unknown;
    let invalid = false;
    if (raw !== "") {
      try {
        body = JSON.parse(raw);
      } catch {
        invalid = true;
      }
    }
    const request: RecordedRequest = { method: req.method ?? "GET", path, query, headers: req.headers, body };
    if (record) requests.push(request);
    const ex: Exchange = { closed: false, cut: false };
    open.add(res);
    res.on("close", () => {
      ex.closed = true;
      open.delete(res);
      if (!res.writableFinished && !ex.cut && !stopping) counts.aborted++;
    });
    const route = invalid ? undefined : format.resolve(request.method, path);
    const early = invalid
      ? format.invalidJson(request)
      : route === undefined
        ? format.notFound(request)
        : route.check?.(request);
    if (early !== undefined || route === undefined) {
      send(res, early ?? format.notFound(request), NO_BEHAVIOUR, ex);
      return;
    }
    const b = behaviours.next();
    if (b === NO_BEHAVIOUR) {
      send(res, route.respond(request, b, context), b, ex);
      return;
    }
    if (b.disconnect || b.hang) {
      counts.injected++;
      if (b.disconnect) cut(res, ex);
      return;
    }
    if (b.delayMs !== undefined && b.delayMs > 0) {
      setTimeout(() => answer(res, request, route, b, ex), b.delayMs);
      return;
    }
    answer(res, request, route, b, ex);
  }

  const server = createServer({ noDelay: true }, (req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      const first = chunks[0];
      const raw =
        first === undefined ? "" : chunks.length === 1 ? first.toString() : Buffer.concat(chunks).toString();
      handle(req, res, raw);
    });
  });
  server.keepAliveTimeout = 65_000;
  server.on("clientError", (_error, socket) => socket.destroy());

  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 0, "127.0.0.1", () => {
      const port = (server.address() as AddressInfo).port;
      resolve({
        provider: format.provider,
        url: `http://127.0.0.1:${port}`,
        port,
        apiKey: format.apiKey,
        requests,
        counts,
        get aborted() {
          return counts.aborted;
        },
        enqueue: (behaviour, times) => behaviours.enqueue(behaviour, times),
        setDefault: (behaviour) => behaviours.setDefault(behaviour),
        reset() {
          requests.length = 0;
          counts.requests = 0;
          counts.streams = 0;
          counts.injected = 0;
          counts.aborted = 0;
          behaviours.clear();
          format.reset?.();
        },
        stop() {
          stopping = true;
          for (const res of open) destroyConnection(res);
          return new Promise<void>((done) => {
            server.close(() => done());
            if (typeof server.closeAllConnections === "function") server.closeAllConnections();
          });
        },
      });
    });
  });
}
