import { AppError, ErrorEnvelope } from "@cloudfreedom/shared";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { readJson } from "../src/validation.ts";
import { testService } from "./helpers.ts";

const Body = z.object({ model: z.string().min(1), max_tokens: z.number().int().positive().optional() });

function appWithRoutes() {
  const service = testService({ maxBodyBytes: 1024 });
  service.app.post("/v1/echo", async (c) => c.json(await readJson(c, Body)));
  service.app.post("/things", async (c) => c.json(await readJson(c, Body)));
  service.app.get("/boom", () => {
    throw new Error("database password is hunter2");
  });
  service.app.get("/limited", () => {
    throw new AppError("rate_limited", "slow down", { limit: 1 }, { "retry-after": "7" });
  });
  return service;
}

const post = (path: string, body: string, headers: Record<string, string> = {}) =>
  appWithRoutes().app.request(path, {
    method: "POST",
    body,
    headers: { "content-type": "application/json", ...headers },
  });

describe("error envelope", () => {
  it("answers an unknown route with a 404 envelope carrying the request id", async () => {
    const res = await appWithRoutes().app.request("/nope", { headers: { "x-request-id": "req-test-1" } });
    expect(res.status).toBe(404);
    const body = ErrorEnvelope.parse(await res.json());
    expect(body).toMatchObject({
      status: "error",
      code: "not_found",
      request_id: "req-test-1",
      details: { path: "/nope" },
    });
    expect(body.message).toBe("No route for GET /nope");
    expect(body.error).toBeUndefined();
    expect(res.headers.get("x-request-id")).toBe("req-test-1");
  });

  it("adds the OpenAI error object on /v1 routes", async () => {
    const res = await appWithRoutes().app.request("/v1/unknown");
    const body = ErrorEnvelope.parse(await res.json());
    expect(body.error).toEqual({
      message: "No route for GET /v1/unknown",
      type: "not_found_error",
      code: "not_found",
      param: null,
    });
  });

  it("answers a known path under another method with 405, the methods it takes and an Allow header", async () => {
    const service = appWithRoutes();
    service.app.get("/items/:id", (c) => c.json({ id: c.req.param("id") }));
    service.app.patch("/items/:id", (c) => c.json({}));
    service.app.get("/numbers/:n{[0-9]+}", (c) => c.json({}));
    service.app.get("/models/:id{.+}", (c) => c.json({}));
    const res = await service.app.request("/v1/echo");
    expect(res.status).toBe(405);
    expect(res.headers.get("allow")).toBe("POST");
    const body = ErrorEnvelope.parse(await res.json());
    expect(body).toMatchObject({
      code: "method_not_allowed",
      message: "GET is not allowed on /v1/echo; use POST",
      details: { path: "/v1/echo", allowed: ["POST"] },
      error: { type: "invalid_request_error", code: "method_not_allowed" },
    });
    const item = await service.app.request("/items/abc", { method: "DELETE" });
    expect(item.status).toBe(405);
    expect(item.headers.get("allow")).toBe("GET, PATCH");
    // A path no route takes, under any method, stays 404; so does one a parameter cannot span, one its
    // expression refuses, and one with a trailing slash the route does not have.
    expect((await service.app.request("/items/abc/def", { method: "DELETE" })).status).toBe(404);
    expect((await service.app.request("/v1/echoes")).status).toBe(404);
    expect((await service.app.request("/v1/echo/")).status).toBe(404);
    expect((await service.app.request("/numbers/abc", { method: "POST" })).status).toBe(404);
    expect((await service.app.request("/numbers/12", { method: "POST" })).status).toBe(405);
    expect((await service.app.request("/models/org/model", { method: "DELETE" })).status).toBe(405);
  });

  it("names the failing field of a body that fails validation", async () => {
    const res = await post("/v1/echo", JSON.stringify({ max_tokens: -1 }));
    expect(res.status).toBe(400);
    const body = ErrorEnvelope.parse(await res.json());
    expect(body.code).toBe("validation_failed");
    expect(body.details.field).toBe("model");
    expect(body.details.issues).toEqual([
      { field: "model", message: expect.any(String) },
      { field: "max_tokens", message: expect.any(String) },
    ]);
    expect(body.message).toMatch(/^Invalid body: model: .+; max_tokens: .+/);
    expect(body.error).toMatchObject({
      type: "invalid_request_error",
      param: "model",
      code: "validation_failed",
    });
  });

  it("answers invalid JSON with invalid_json and an empty body with a hint", async () => {
    const broken = await post("/things", '{"model": ');
    expect(broken.status).toBe(400);
    expect(await broken.json()).toMatchObject({
      code: "invalid_json",
      message: expect.stringMatching(/not valid JSON/),
    });
    const empty = await post("/things", "");
    expect(await empty.json()).toMatchObject({
      code: "invalid_json",
      message: "Request body is empty; send a JSON object",
    });
  });

  it("accepts valid JSON sent without a JSON content type (curl -d)", async () => {
    const res = await appWithRoutes().app.request("/things", {
      method: "POST",
      body: JSON.stringify({ model: "m" }),
      headers: { "content-type": "application/x-www-form-urlencoded" },
    });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ model: "m" });
  });

  it("refuses a body over the limit with 413", async () => {
    const res = await post("/things", JSON.stringify({ model: "x".repeat(2000) }));
    expect(res.status).toBe(413);
    expect(await res.json()).toMatchObject({ code: "payload_too_large", details: { max_bytes: 1024 } });
  });

  it("refuses a declared Content-Length over the limit before reading the body, and admits one under it", async () => {
    const big = JSON.stringify({ model: "x".repeat(2000) });
    const refused = await post("/things", big, { "content-length": String(big.length) });
    expect(refused.status).toBe(413);
    expect(await refused.json()).toMatchObject({ code: "payload_too_large" });
    const small = JSON.stringify({ model: "m" });
    const admitted = await post("/things", small, { "content-length": String(small.length) });
    expect(admitted.status).toBe(200);
  });

  it("hides the message of an unexpected error behind internal_error", async () => {
    const res = await appWithRoutes().app.request("/boom");
    expect(res.status).toBe(500);
    const text = await res.text();
    expect(text).not.toContain("hunter2");
    expect(JSON.parse(text)).toMatchObject({
      code: "internal_error",
      message: expect.stringMatching(/request_id/),
    });
  });

  it("carries an AppError's headers (Retry-After) and status", async () => {
    const res = await appWithRoutes().app.request("/limited");
    expect(res.status).toBe(429);
    expect(res.headers.get("retry-after")).toBe("7");
    expect(await res.json()).toMatchObject({ code: "rate_limited", details: { limit: 1 } });
  });

  it("mints a request id when the caller sends none or a hostile one", async () => {
    const app = appWithRoutes().app;
    const minted = await app.request("/health");
    expect(minted.headers.get("x-request-id")).toMatch(/^req_[0-9a-z]{20}$/);
    const hostile = await app.request("/health", { headers: { "x-request-id": "a b c" } });
    expect(hostile.headers.get("x-request-id")).toMatch(/^req_/);
  });

  it("puts the request id on a Response a handler built itself (a stream), even one with immutable headers", async () => {
    const service = testService();
    service.app.get(
      "/stream",
      () => new Response("data: 1\n\n", { headers: { "content-type": "text/event-stream" } }),
    );
    service.app.get("/fetched", () => Response.redirect("http://example.test/elsewhere", 307));
    const streamed = await service.app.request("/stream", { headers: { "x-request-id": "req-stream-1" } });
    expect(streamed.headers.get("x-request-id")).toBe("req-stream-1");
    expect(streamed.headers.get("content-type")).toBe("text/event-stream");
    expect(await streamed.text()).toBe("data: 1\n\n");
    const fetched = await service.app.request("/fetched", { headers: { "x-request-id": "req-redirect-1" } });
    expect(fetched.status).toBe(307);
    expect(fetched.headers.get("location")).toBe("http://example.test/elsewhere");
    expect(fetched.headers.get("x-request-id")).toBe("req-redirect-1");
  });
});

describe("health and readiness", () => {
  it("answers /health with liveness", async () => {
    const res = await testService().app.request("/health");
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ status: "ok", service: "test" });
  });

  it("answers /ready 200 when PocketBase and Redis answer", async () => {
    const res = await testService().app.request("/ready");
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ status: "ready", database: "connected", redis: "connected" });
  });

  it("answers /ready 503 naming the database when PocketBase is down", async () => {
    const res = await testService({
      readiness: { database: async () => false, redis: async () => true },
    }).app.request("/ready");
    expect(res.status).toBe(503);
    expect(await res.json()).toMatchObject({
      status: "not_ready",
      database: "disconnected",
      redis: "connected",
    });
  });

  it("counts a throwing check as disconnected", async () => {
    const readiness = {
      database: async () => true,
      redis: async (): Promise<boolean> => {
        throw new Error("ECONNREFUSED");
      },
    };
    const res = await testService({ readiness }).app.request("/ready");
    expect(res.status).toBe(503);
    expect(await res.json()).toMatchObject({ database: "connected", redis: "disconnected" });
  });

  it("answers /ready 503 while draining", async () => {
    const service = testService();
    service.markDraining();
    const res = await service.app.request("/ready");
    expect(res.status).toBe(503);
    expect(await res.json()).toMatchObject({ status: "not_ready", draining: true });
  });
});
