import { createRuntime, parseEnv } from "@cloudfreedom/service-kit";
import { decodeProtectedHeader } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildAuthApp } from "../../src/app.ts";
import { AuthEnv } from "../../src/env.ts";
import { type AuthHarness, PASSWORD, startAuth } from "./harness.ts";

// Signing keys shared by replicas and rotated without breaking live tokens; the OpenAPI document.
let h: AuthHarness;
beforeAll(async () => {
  h = await startAuth();
});
afterAll(async () => {
  await h?.stop();
});

const login = (email: string, password: string) =>
  h.call("POST", "/v1/auth/login", { body: { email, password } });

describe("signing keys", () => {
  it("stores the private key encrypted, and a restarted replica signs and verifies with the same keys", async () => {
    const rows = await h.db.operator.collection("signing_keys").listAll({});
    expect(rows.length).toBeGreaterThan(0);
    for (const row of rows) {
      expect(row.private_jwk_encrypted).toMatch(/^v1:/);
      expect(row.public_jwk).not.toHaveProperty("d");
    }
    const session = await h.signUp();
    const runtime = await createRuntime("auth", parseEnv("auth", AuthEnv, h.env));
    const replica = await buildAuthApp(runtime);
    try {
      const me = await replica.app.request("/v1/me", {
        headers: { authorization: `Bearer ${session.access_token}` },
      });
      expect(me.status).toBe(200);
      expect(replica.deps.signing.jwks()).toEqual(h.service.deps.signing.jwks());
    } finally {
      await replica.onClose?.();
      await runtime.close();
    }
  });

  it("rotates: new tokens carry the new kid, and a token of the old key still verifies", async () => {
    const session = await h.signUp();
    const oldKid = decodeProtectedHeader(session.access_token).kid;
    const rotated = await h.call("POST", "/internal/signing-keys/rotate", {
      headers: { "x-internal-token": h.env.INTERNAL_TOKEN ?? "" },
    });
    expect(rotated.status).toBe(200);
    expect(rotated.body.kid).not.toBe(oldKid);
    const kids = ((await h.call("GET", "/.well-known/jwks.json")).body.keys as Array<{ kid: string }>).map(
      (k) => k.kid,
    );
    expect(kids).toEqual(expect.arrayContaining([oldKid, rotated.body.kid]));
    expect((await h.call("GET", "/v1/me", { token: session.access_token })).status).toBe(200);
    const fresh = await login(session.user.email, PASSWORD);
    expect(decodeProtectedHeader(String(fresh.body.access_token)).kid).toBe(rotated.body.kid);
    const retired = await h.db.operator
      .collection("signing_keys")
      .getFirst({ filter: "kid = {:kid}", params: { kid: oldKid } });
    expect(retired?.retired_at).not.toBe("");
    expect(Date.parse(String(retired?.verify_until).replace(" ", "T"))).toBeGreaterThan(Date.now() + 900_000);
  });
});

describe("/openapi.json", () => {
  it("describes every route from the zod definitions", async () => {
    const doc = (await h.call("GET", "/openapi.json")).body as {
      openapi: string;
      paths: Record<
        string,
        Record<
          string,
          {
            requestBody?: {
              content: Record<
                string,
                { schema: { properties: Record<string, unknown>; required: string[] } }
              >;
            };
          }
        >
      >;
    };
    expect(doc.openapi).toBe("3.1.0");
    expect(Object.keys(doc.paths)).toEqual(
      expect.arrayContaining([
        "/v1/auth/login",
        "/v1/keys",
        "/v1/keys/{id}/rotate",
        "/.well-known/jwks.json",
        "/internal/keys/resolve",
      ]),
    );
    const login = doc.paths["/v1/auth/login"]?.post?.requestBody?.content["application/json"]?.schema;
    expect(login?.required).toEqual(expect.arrayContaining(["email", "password"]));
  });
});
