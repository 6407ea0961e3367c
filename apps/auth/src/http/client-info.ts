import type { Context } from "hono";
import type { ClientInfo } from "../deps.ts";

interface PeerAware {
  requestIP?: (request: Request) => { address: string } | null;
}

function peerAddress(c: Context): string | null {
  // On Bun, the server is the 2nd argument of fetch (Hono's `c.env`); under app.request() there is none.
  const server = c.env as PeerAware | undefined;
  if (typeof server?.requestIP !== "function") return null;
  return server.requestIP(c.req.raw)?.address ?? null;
}

/**
 * The caller's IP: the X-Forwarded-For entry added by the nearest trusted proxy (Traefik appends the peer it saw),
 * else the socket peer. With `trustedHops = 0` the header is ignored: a client could write anything there.
 */
export function clientInfo(c: Context, trustedHops: number): ClientInfo {
  const forwarded = (c.req.header("x-forwarded-for") ?? "")
    .split(",")
    .map((part) => part.trim())
    .filter(Boolean);
  const fromProxy = trustedHops > 0 ? forwarded[forwarded.length - trustedHops] : undefined;
  return {
    ip: fromProxy ?? peerAddress(c) ?? "unknown",
    userAgent: c.req.header("user-agent") ?? "",
  };
}
