import type { ProviderRow } from "@cloudfreedom/db";
import { DEFAULT_PROVIDER_BASE_URLS, decryptSecret, providerSecretContext } from "@cloudfreedom/shared";
import { describe, expect, it } from "vitest";
import { buildProviderRow, ProviderCommandError, parseProviderCommand, unroutedWarning } from "../command.ts";

const MASTER_KEY = "ab".repeat(32);
const context = (name: string, kind: string, baseUrl: string) =>
  providerSecretContext({ name, kind, baseUrl });

async function storedRow(over: Partial<ProviderRow> & { key?: string } = {}): Promise<ProviderRow> {
  const { key = "sk-stored", ...rest } = over;
  const { row } = await buildProviderRow({
    command: parseProviderCommand(["--name", "openai", "--kind", "openai"], key),
    existing: null,
    masterKey: MASTER_KEY,
  });
  return { id: "p1", created: "", updated: "", ...row, ...rest } as ProviderRow;
}

describe("parseProviderCommand", () => {
  it("names an unknown kind and lists the valid ones", () => {
    expect(() => parseProviderCommand(["--name", "x", "--kind", "foo"], undefined)).toThrow(
      new ProviderCommandError(
        '"foo" is not a valid --kind; valid kinds: openai, anthropic, gemini, ollama, azure, openrouter',
      ),
    );
  });

  it("refuses a --base-url that is not an http(s) URL, naming what it got", () => {
    for (const bad of ["notaurl", "ftp://host/x", "http://"])
      expect(() => parseProviderCommand(["--name", "x", "--kind", "openai", "--base-url", bad], "k")).toThrow(
        /--base-url must be an http\(s\) URL/,
      );
    expect(
      parseProviderCommand(
        ["--name", "x", "--kind", "ollama", "--base-url", "http://gpu-box:11434"],
        undefined,
      ).baseUrl,
    ).toBe("http://gpu-box:11434");
  });

  it("refuses --no-key for a kind that needs a key, and --no-key with PROVIDER_API_KEY", () => {
    expect(() => parseProviderCommand(["--name", "a", "--kind", "anthropic", "--no-key"], undefined)).toThrow(
      /kind anthropic needs PROVIDER_API_KEY/,
    );
    expect(() => parseProviderCommand(["--name", "a", "--kind", "openai", "--no-key"], "sk-x")).toThrow(
      /unset one of them/,
    );
  });
});

describe("buildProviderRow", () => {
  it.each(["openai", "anthropic", "gemini", "openrouter"])(
    "refuses to create a %s provider without PROVIDER_API_KEY, saying to set it",
    async (kind) => {
      await expect(
        buildProviderRow({
          command: parseProviderCommand(["--name", kind, "--kind", kind], undefined),
          existing: null,
          masterKey: MASTER_KEY,
        }),
      ).rejects.toThrow(`provider "${kind}" (kind ${kind}) needs an API key: set PROVIDER_API_KEY=<key>`);
    },
  );

  it("creates keyless providers: ollama, and an OpenAI-compatible server with --no-key", async () => {
    const ollama = await buildProviderRow({
      command: parseProviderCommand(
        ["--name", "gpu", "--kind", "ollama", "--base-url", "http://gpu:11434"],
        undefined,
      ),
      existing: null,
      masterKey: MASTER_KEY,
    });
    expect(ollama).toEqual({
      row: {
        name: "gpu",
        kind: "ollama",
        base_url: "http://gpu:11434",
        enabled: true,
        credentials_encrypted: "",
        options: null,
      },
      credential: "none",
    });
    const local = await buildProviderRow({
      command: parseProviderCommand(
        ["--name", "lmstudio", "--kind", "openai", "--base-url", "http://127.0.0.1:1234/v1", "--no-key"],
        undefined,
      ),
      existing: null,
      masterKey: MASTER_KEY,
    });
    expect(local.row.credentials_encrypted).toBe("");
    await expect(
      buildProviderRow({
        command: parseProviderCommand(["--name", "o", "--kind", "openai", "--no-key"], undefined),
        existing: null,
        masterKey: MASTER_KEY,
      }),
    ).rejects.toThrow(/give their --base-url/);
  });

  it("--disable without PROVIDER_API_KEY keeps the stored key, base URL and options", async () => {
    const existing = await storedRow({ options: { apiVersion: "2024-10-21" } });
    const { row, credential } = await buildProviderRow({
      command: parseProviderCommand(["--name", "openai", "--disable"], undefined),
      existing,
      masterKey: MASTER_KEY,
    });
    expect(credential).toBe("kept");
    expect(row).toEqual({
      name: "openai",
      kind: "openai",
      base_url: "",
      enabled: false,
      credentials_encrypted: existing.credentials_encrypted,
      options: { apiVersion: "2024-10-21" },
    });
    const openaiUrl = DEFAULT_PROVIDER_BASE_URLS.openai ?? "";
    expect(
      await decryptSecret(row.credentials_encrypted, MASTER_KEY, context("openai", "openai", openaiUrl)),
    ).toBe("sk-stored");
  });

  it("re-seals the kept key when the base URL it is bound to changes, so the router can still decrypt it", async () => {
    const { row } = await buildProviderRow({
      command: parseProviderCommand(
        ["--name", "openai", "--base-url", "https://proxy.example/v1"],
        undefined,
      ),
      existing: await storedRow(),
      masterKey: MASTER_KEY,
    });
    expect(
      await decryptSecret(
        row.credentials_encrypted,
        MASTER_KEY,
        context("openai", "openai", "https://proxy.example/v1"),
      ),
    ).toBe("sk-stored");
  });

  it("replaces the key given in PROVIDER_API_KEY and removes it with --no-key", async () => {
    const existing = await storedRow();
    const replaced = await buildProviderRow({
      command: parseProviderCommand(["--name", "openai"], "sk-new"),
      existing,
      masterKey: MASTER_KEY,
    });
    expect(replaced.credential).toBe("new");
    const openaiUrl = DEFAULT_PROVIDER_BASE_URLS.openai ?? "";
    expect(
      await decryptSecret(
        replaced.row.credentials_encrypted,
        MASTER_KEY,
        context("openai", "openai", openaiUrl),
      ),
    ).toBe("sk-new");
    const removed = await buildProviderRow({
      command: parseProviderCommand(
        ["--name", "openai", "--base-url", "http://127.0.0.1:1234/v1", "--no-key"],
        undefined,
      ),
      existing,
      masterKey: MASTER_KEY,
    });
    expect(removed).toMatchObject({ row: { credentials_encrypted: "" }, credential: "removed" });
  });
});

describe("unroutedWarning", () => {
  it("warns about a provider name no catalog deployment uses, listing the names that are", () => {
    const models = [{ deployments: [{ provider: "openai" }, { provider: "ollama" }] }, { deployments: null }];
    expect(unroutedWarning("ollama", models)).toBeNull();
    expect(unroutedWarning("my-ollama", models)).toBe(
      'warning: no model of the catalog routes to a provider named "my-ollama" (its deployments name: ollama, openai); store it under one of those names, or add deployments naming it',
    );
  });
});
