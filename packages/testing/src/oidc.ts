import { randomBytes } from "node:crypto";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

/** Who a code logs in as: the OpenID Connect userinfo claims the provider answers with. */
export interface OidcIdentity {
  sub: string;
  email: string;
  name?: string;
  /** PocketBase takes the e-mail only when the provider says it is verified. Default true. */
  email_verified?: boolean;
}

export interface OidcProviderHandle {
  url: string;
  /** `authURL`, `tokenURL` and `userInfoURL` for a PocketBase `oidc` provider. */
  endpoints: { authURL: string; tokenURL: string; userInfoURL: string };
  /** An authorization code for this identity, as the provider's redirect would carry it; good for one exchange. */
  issueCode(identity: OidcIdentity): string;
  /** Every token exchange, as received (form fields). */
  exchanges: Array<Record<string, string>>;
  stop(): Promise<void>;
}

const token = (prefix: string) => `${prefix}_${randomBytes(18).toString("base64url")}`;

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    let body = "";
    req.setEncoding("utf8");
    req.on("data", (chunk: string) => {
      body += chunk;
    });
    req.on("end", () => resolve(body));
    req.on("error", reject);
  });
}

function send(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { "content-type": "application/json" });
  res.end(JSON.stringify(body));
}

/**
 * An OpenID Connect provider on 127.0.0.1 speaking the authorization-code flow's server side (RFC 6749 §4.1.3
 * token endpoint with form-encoded requests, OIDC userinfo with a bearer token), so PocketBase's `oidc` provider
 * exchanges real codes: `issueCode` stands in for the user's consent in a browser. Codes and access tokens are
 * single-identity and random; a code works once (`invalid_grant` after), as with a real provider.
 */
export async function startOidcProvider(): Promise<OidcProviderHandle> {
  const codes = new Map<string, OidcIdentity>();
  const accessTokens = new Map<string, OidcIdentity>();
  const exchanges: Array<Record<string, string>> = [];
  const server = createServer(async (req, res) => {
    const path = new URL(req.url ?? "/", "http://127.0.0.1").pathname;
    if (req.method === "POST" && path === "/token") {
      const form = Object.fromEntries(new URLSearchParams(await readBody(req)));
      exchanges.push(form);
      const identity = form.code === undefined ? undefined : codes.get(form.code);
      if (form.grant_type !== "authorization_code" || !identity) {
        send(res, 400, { error: "invalid_grant", error_description: "unknown or used authorization code" });
        return;
      }
      codes.delete(form.code as string);
      const accessToken = token("at");
      accessTokens.set(accessToken, identity);
      send(res, 200, {
        access_token: accessToken,
        token_type: "Bearer",
        expires_in: 3600,
        scope: "openid email profile",
      });
      return;
    }
    if (req.method === "GET" && path === "/userinfo") {
      const bearer = /^Bearer (.+)$/i.exec(req.headers.authorization ?? "")?.[1];
      const identity = bearer === undefined ? undefined : accessTokens.get(bearer);
      if (!identity) {
        res.writeHead(401, { "www-authenticate": 'Bearer error="invalid_token"' });
        res.end();
        return;
      }
      send(res, 200, { email_verified: true, ...identity });
      return;
    }
    send(res, 404, { error: "not_found" });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    endpoints: { authURL: `${url}/authorize`, tokenURL: `${url}/token`, userInfoURL: `${url}/userinfo` },
    issueCode: (identity) => {
      const code = token("code");
      codes.set(code, identity);
      return code;
    },
    exchanges,
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
