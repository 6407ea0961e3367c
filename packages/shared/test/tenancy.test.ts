import { describe, expect, it } from "vitest";
import { RESERVED_SLUGS, tenantSlugFromHost } from "../src/tenancy.ts";

describe("tenantSlugFromHost", () => {
  it("reads the tenant from its subdomain, ignoring case and port", () => {
    expect(tenantSlugFromHost("Acme.Example.com:443", "example.com")).toBe("acme");
  });

  it("addresses no tenant on the platform's own subdomains, the bare domain, nested or foreign hosts", () => {
    for (const host of [
      "api.example.com",
      "auth.example.com",
      "example.com",
      "a.b.example.com",
      "acme.other.com",
      "127.0.0.1:4000",
      undefined,
    ]) {
      expect(tenantSlugFromHost(host, "example.com")).toBeUndefined();
    }
    expect(RESERVED_SLUGS.has("billing")).toBe(true);
  });
});
