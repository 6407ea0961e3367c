import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { Hono } from "hono";
import { exportJWK, generateKeyPair, SignJWT } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { errorResponse } from "../../src/errors.ts";
import { jwtAuth } from "../../src/jwt.ts";

// A real HTTP JWKS endpoint, as the auth service will serve it.
let server: Server;
let jwksUrl: string;
let signingKey: CryptoKey;
let strangerKey: CryptoKey;

beforeAll(async () => {
  const pair = await generateKeyPair("ES256");
  signingKey = pair.privateKey;
  strangerKey = (await generateKeyPair("ES256")).privateKey;
  const jwk = { ...(await exportJWK(pair.publicKey)), kid: "k1", alg: "ES256", use: "sig" };
  server = createServer((req, res) => {
    if (req.url !== "/.well-known/jwks.json") return res.writeHead(404).end();
    res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ keys: [jwk] }));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  jwksUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/.well-known/jwks.json`;
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

function app(url = jwksUrl) {
  const hono = new Hono();
  hono.onError((error, c) => errorResponse(c, error));
  hono.use("*", async (c, next) => {
    c.set("requestId", "req_test");
    await next();
  });
  hono.use("/me", jwtAuth({ jwksUrl: url, issuer: "cloudfreedom-auth" }));
  hono.get("/me", (c) => c.json({ auth: c.get("auth"), tenant: c.get("tenantId") }));
  return hono;
}

const claims = { tenant: "tnt_a", role: "owner", tier: "pro" };
async function token(
  options: { key?: CryptoKey; kid?: string; exp?: string | number; payload?: object } = {},
) {
  return new SignJWT({ ...claims, ...options.payload })
    .setProtectedHeader({ alg: "ES256", kid: options.kid ?? "k1" })
    .setSubject("usr_1")
    .setIssuer("cloudfreedom-auth")
    .setIssuedAt()
    .setExpirationTime(options.exp ?? "5m")
    .sign(options.key ?? signingKey);
}
const call = async (auth?: string, url?: string) =>
  app(url).request("/me", auth ? { headers: { authorization: auth } } : {});

describe("jwtAuth over a JWKS URL", () => {
  it("verifies a valid token and exposes its claims and tenant", async () => {
    const res = await call(`Bearer ${await token()}`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({
      auth: expect.objectContaining({ sub: "usr_1", ...claims }),
      tenant: "tnt_a",
    });
  });

  it.each([
    ["no credentials", undefined, 401, "unauthorized"],
    ["a malformed token", "Bearer not.a.jwt", 401, "unauthorized"],
    ["a non-bearer scheme", "Basic dXNlcjpwYXNz", 401, "unauthorized"],
  ])("refuses %s", async (_name, auth, status, code) => {
    const res = await call(auth);
    expect(res.status).toBe(status);
    expect(await res.json()).toMatchObject({ status: "error", code });
  });

  it("refuses an expired token with token_expired", async () => {
    const res = await call(`Bearer ${await token({ exp: Math.floor(Date.now() / 1000) - 60 })}`);
    expect(res.status).toBe(401);
    expect(await res.json()).toMatchObject({ code: "token_expired" });
  });

  it("refuses a token signed by an unknown key", async () => {
    const forged = await call(`Bearer ${await token({ key: strangerKey })}`);
    expect(forged.status).toBe(401);
    expect(await forged.json()).toMatchObject({
      code: "unauthorized",
      message: expect.stringMatching(/^Invalid access token .*: log in again with POST \/v1\/auth\/login$/),
    });
    const unknownKid = await call(`Bearer ${await token({ key: strangerKey, kid: "k9" })}`);
    expect(unknownKid.status).toBe(401);
  });

  it("refuses a token missing the tenant claim", async () => {
    const res = await call(`Bearer ${await token({ payload: { tenant: "" } })}`);
    expect(res.status).toBe(401);
    expect(await res.json()).toMatchObject({ message: "Access token lacks required claims" });
  });

  it("answers 503 when the JWKS cannot be fetched", async () => {
    const res = await call(`Bearer ${await token()}`, "http://127.0.0.1:1/.well-known/jwks.json");
    expect(res.status).toBe(503);
    expect(await res.json()).toMatchObject({ code: "service_unavailable" });
  });
});
