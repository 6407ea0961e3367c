import type { ProviderRow } from "@cloudfreedom/db";
import { encryptSecret, providerSecretContext } from "@cloudfreedom/shared";
import { describe, expect, it } from "vitest";
import { RouterEnv } from "../../src/env.ts";
import { providerFromRow, providersFromEnv } from "../../src/services/catalog/providers.ts";

const base = {
  POCKETBASE_ADMIN_EMAIL: "ops@example.com",
  POCKETBASE_ADMIN_PASSWORD: "correct-horse-battery",
};
const masterKey = Buffer.alloc(32, 3).toString("base64");
const row = (fields: Partial<ProviderRow>): ProviderRow => ({
  id: "prv_1",
  created: "",
  updated: "",
  name: "openai",
  kind: "openai",
  base_url: "",
  credentials_encrypted: "",
  enabled: true,
  options: null,
  ...fields,
});

describe("providers from env (bootstrap)", () => {
  it("refuses to start with a MASTER_KEY that is not 32 bytes", () => {
    const parsed = RouterEnv.safeParse({ ...base, MASTER_KEY: "too-short" });
    expect(parsed.success).toBe(false);
    expect(parsed.error?.issues[0]?.path).toEqual(["MASTER_KEY"]);
  });

  it("configures a provider per kind with a key, at its default URL unless one is given", () => {
    const env = RouterEnv.parse({
      ...base,
      OPENAI_API_KEY: "sk-1",
      ANTHROPIC_API_KEY: "ak",
      ANTHROPIC_BASE_URL: "http://proxy:8080",
    });
    expect(providersFromEnv(env)).toEqual([
      { name: "openai", kind: "openai", baseUrl: "https://api.openai.com/v1", apiKey: "sk-1", options: {} },
      { name: "anthropic", kind: "anthropic", baseUrl: "http://proxy:8080", apiKey: "ak", options: {} },
    ]);
  });

  it("configures keyless Ollama only when its URL is given, and Azure only with a base URL", () => {
    expect(providersFromEnv(RouterEnv.parse(base))).toEqual([]);
    expect(providersFromEnv(RouterEnv.parse({ ...base, AZURE_OPENAI_API_KEY: "az" }))).toEqual([]);
    const env = RouterEnv.parse({
      ...base,
      OLLAMA_BASE_URL: "http://gpu:11434",
      AZURE_OPENAI_API_KEY: "az",
      AZURE_OPENAI_BASE_URL: "https://x.openai.azure.com",
      AZURE_OPENAI_API_VERSION: "2025-01-01",
    });
    expect(providersFromEnv(env).map((p) => [p.name, p.baseUrl, p.options])).toEqual([
      ["ollama", "http://gpu:11434", {}],
      ["azure", "https://x.openai.azure.com", { apiVersion: "2025-01-01" }],
    ]);
  });
});

describe("providers from PocketBase rows", () => {
  it("decrypts the stored credential with MASTER_KEY", async () => {
    const context = providerSecretContext({
      name: "openai",
      kind: "openai",
      baseUrl: "https://api.openai.com/v1",
    });
    const stored = row({
      credentials_encrypted: await encryptSecret("sk-secret", masterKey, context),
      options: { headers: { "x-org": "1" } },
    });
    expect(await providerFromRow(stored, masterKey)).toEqual({
      target: {
        name: "openai",
        kind: "openai",
        baseUrl: "https://api.openai.com/v1",
        apiKey: "sk-secret",
        options: { headers: { "x-org": "1" } },
      },
    });
  });

  it("refuses a credential whose row now points somewhere else", async () => {
    const context = providerSecretContext({
      name: "openai",
      kind: "openai",
      baseUrl: "https://api.openai.com/v1",
    });
    const sealed = await encryptSecret("sk-secret", masterKey, context);
    expect(
      await providerFromRow(
        row({ credentials_encrypted: sealed, base_url: "https://evil.example/v1" }),
        masterKey,
      ),
    ).toMatchObject({
      skipped: expect.stringMatching(/changed/),
    });
  });

  it("skips a disabled row, one without MASTER_KEY, one with the wrong key, and Azure without a URL", async () => {
    const sealed = await encryptSecret("sk-secret", masterKey);
    expect(await providerFromRow(row({ enabled: false }), masterKey)).toEqual({ skipped: "disabled" });
    expect(await providerFromRow(row({ credentials_encrypted: sealed }), undefined)).toEqual({
      skipped: "has encrypted credentials but MASTER_KEY is not set",
    });
    expect(
      await providerFromRow(row({ credentials_encrypted: sealed }), Buffer.alloc(32, 4).toString("base64")),
    ).toMatchObject({
      skipped: expect.stringMatching(/wrong MASTER_KEY/),
    });
    expect(await providerFromRow(row({ kind: "azure" }), masterKey)).toEqual({ skipped: "no base_url" });
  });
});
