import type { ApiKeyRow } from "@cloudfreedom/db";
import { Hono } from "hono";
import { describe, expect, it } from "vitest";
import { clientInfo } from "../../src/http/client-info.ts";
import { buildOpenApi } from "../../src/openapi/document.ts";
import { ROUTES } from "../../src/routes/index.ts";
import { settingsToRow } from "../../src/services/keys/settings.ts";
import { keyStatus } from "../../src/services/keys/view.ts";
import { addressSubject } from "../../src/services/security/rate-limit.ts";
import {
  assertValidSlug,
  newRecordId,
  RESERVED_SLUGS,
  slugFromEmail,
} from "../../src/services/tenants/slug.ts";
import { hashSecret, newSecret, secretsEqual } from "../../src/services/tokens/secrets.ts";

describe("tenant slugs", () => {
  it.each(["api", "auth", "billing", "admin", "www", "traces", "analytics", "app", "mail"])(
    "refuses the reserved %s",
    (slug) => {
      expect(() => assertValidSlug(slug)).toThrow(/reserved/);
    },
  );

  it("reserves every platform subdomain of the issue", () => {
    for (const slug of [
      "api",
      "auth",
      "billing",
      "admin",
      "www",
      "traces",
      "analytics",
      "pb",
      "app",
      "mail",
    ]) {
      expect(RESERVED_SLUGS.has(slug)).toBe(true);
    }
  });

  it.each(["-acme", "acme-", "Acme", "ac", "a_b", "x".repeat(64)])(
    "refuses %s, which is no DNS label",
    (slug) => {
      expect(() => assertValidSlug(slug)).toThrow(/DNS label/);
    },
  );

  it("accepts a plain label", () => {
    expect(() => assertValidSlug("acme-gmbh-2")).not.toThrow();
  });

  it("derives a valid, unreserved slug from any e-mail", () => {
    for (const email of [
      "Ada.Lovelace@example.com",
      "admin@example.com",
      "__@x.io",
      `${"z".repeat(80)}@x.io`,
    ]) {
      const slug = slugFromEmail(email);
      expect(() => assertValidSlug(slug)).not.toThrow();
    }
    expect(slugFromEmail("Ada.Lovelace@example.com")).toMatch(/^ada-lovelace-[a-z0-9]{6}$/);
  });

  it("makes record ids our migrations accept", () => {
    expect(newRecordId("tnt")).toMatch(/^tnt_[a-z0-9]{15}$/);
  });
});

describe("secrets", () => {
  it("compares in constant time and only equal strings are equal", () => {
    expect(secretsEqual("abc", "abc")).toBe(true);
    expect(secretsEqual("abc", "abd")).toBe(false);
    expect(secretsEqual("abc", "abcd")).toBe(false);
    expect(secretsEqual("", "x")).toBe(false);
  });

  it("makes refresh and invitation tokens of 32 base62 characters and hashes them to hex", () => {
    expect(newSecret("cfr")).toMatch(/^cfr_[0-9A-Za-z]{32}$/);
    expect(hashSecret("x")).toBe("2d711642b726b04401627ca9fbac32f5c8530fb1903cc4db02258717921a4881");
  });
});

describe("client IP", () => {
  const ipOf = async (hops: number, forwarded?: string) => {
    const app = new Hono();
    app.get("/", (c) => c.text(clientInfo(c, hops).ip));
    const res = await app.request("/", { headers: forwarded ? { "x-forwarded-for": forwarded } : {} });
    return res.text();
  };

  it("ignores X-Forwarded-For unless a proxy is trusted (a client could write anything there)", async () => {
    expect(await ipOf(0, "1.2.3.4")).toBe("unknown");
  });

  it("takes the entry the nearest trusted proxy appended, not the client's own", async () => {
    expect(await ipOf(1, "6.6.6.6, 203.0.113.9")).toBe("203.0.113.9");
    expect(await ipOf(2, "6.6.6.6, 203.0.113.9, 10.0.0.2")).toBe("203.0.113.9");
  });
});

describe("the subject of a per-address limit", () => {
  it.each([
    ["203.0.113.5", "203.0.113.5"],
    ["2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64"],
    ["2001:db8:1:2:ffff::9", "2001:db8:1:2::/64"],
    ["2001:db8::1", "2001:db8:0:0::/64"],
    ["::ffff:198.51.100.7", "198.51.100.7"],
    ["fe80::1%eth0", "fe80:0:0:0::/64"],
    ["::1", "0:0:0:0::/64"],
    ["::", "0:0:0:0::/64"],
    ["::ffff:c000:201", "192.0.2.1"],
    ["0:0:0:0:0:ffff:1.2.3.4", "1.2.3.4"],
    ["::1.2.3.4", "1.2.3.4"],
    ["[2001:db8::1]", "2001:db8:0:0::/64"],
    ["2001:DB8:A::1", "2001:db8:a:0::/64"],
    ["", ""],
    ["unknown", "unknown"],
    ["1:2:3", "1:2:3"],
  ])("counts %s as %s", (ip, subject) => {
    expect(addressSubject(ip)).toBe(subject);
  });
});

describe("key settings and status", () => {
  const row = (fields: Partial<ApiKeyRow>): ApiKeyRow =>
    ({ revoked_at: "", expires_at: "", grace_until: "", ...fields }) as ApiKeyRow;

  it("maps API nulls to PocketBase's empty values and leaves omitted fields alone", () => {
    expect(settingsToRow({ rpm: null, budget_micros: 5, expires_at: null })).toEqual({
      rpm: 0,
      budget_micros: 5,
      expires_at: "",
    });
    expect(settingsToRow({ name: "x" })).toEqual({ name: "x" });
  });

  it("says whether a key is active, in its grace period, expired or revoked", () => {
    const future = "2999-01-01 00:00:00.000Z";
    const past = "2001-01-01 00:00:00.000Z";
    expect(keyStatus(row({}))).toBe("active");
    expect(keyStatus(row({ grace_until: future }))).toBe("grace");
    expect(keyStatus(row({ grace_until: past }))).toBe("expired");
    expect(keyStatus(row({ expires_at: past }))).toBe("expired");
    expect(keyStatus(row({ revoked_at: past, expires_at: future }))).toBe("revoked");
  });
});

describe("OpenAPI document", () => {
  const doc = buildOpenApi(ROUTES, { title: "t", version: "1", serverUrl: "https://auth.example" }) as {
    paths: Record<
      string,
      Record<
        string,
        {
          security: unknown[];
          responses: Record<string, unknown>;
          parameters: Array<{ name: string; in: string }>;
        }
      >
    >;
  };

  it("has one operation per route, path parameters in OpenAPI syntax", () => {
    const operations = Object.values(doc.paths).flatMap((methods) => Object.keys(methods));
    expect(operations).toHaveLength(ROUTES.length);
    expect(doc.paths["/v1/keys/{id}"]?.patch?.parameters).toEqual([
      expect.objectContaining({ name: "id", in: "path" }),
    ]);
  });

  it("marks protected routes and lists their 401 answers", () => {
    expect(doc.paths["/v1/keys"]?.post?.security).toEqual([{ bearer: [] }]);
    expect(doc.paths["/v1/keys"]?.post?.responses).toHaveProperty("401");
    expect(doc.paths["/v1/keys"]?.post?.responses).toHaveProperty("429");
    expect(doc.paths["/v1/auth/login"]?.post?.security).toEqual([]);
    expect(doc.paths["/internal/keys/resolve"]?.post?.security).toEqual([{ internal: [] }]);
  });
});
