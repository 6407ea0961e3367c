import type { ProviderRow } from "@cloudfreedom/db";
import {
  DEFAULT_PROVIDER_BASE_URLS,
  decryptSecret,
  type ProviderKind,
  providerSecretContext,
} from "@cloudfreedom/shared";
import type { RouterEnv } from "../../env.ts";
import type { ProviderTarget } from "../../providers/types.ts";

const DEFAULT_BASE_URLS = DEFAULT_PROVIDER_BASE_URLS;

/** Providers configured by env (bootstrap before anything is stored); named after their kind. */
export function providersFromEnv(env: RouterEnv): ProviderTarget[] {
  const candidates: Array<[ProviderKind, string | undefined, string | undefined, ProviderTarget["options"]]> =
    [
      ["openai", env.OPENAI_API_KEY, env.OPENAI_BASE_URL, {}],
      ["anthropic", env.ANTHROPIC_API_KEY, env.ANTHROPIC_BASE_URL, {}],
      ["gemini", env.GEMINI_API_KEY, env.GEMINI_BASE_URL, {}],
      ["ollama", undefined, env.OLLAMA_BASE_URL, {}],
      ["openrouter", env.OPENROUTER_API_KEY, env.OPENROUTER_BASE_URL, {}],
      [
        "azure",
        env.AZURE_OPENAI_API_KEY,
        env.AZURE_OPENAI_BASE_URL,
        env.AZURE_OPENAI_API_VERSION ? { apiVersion: env.AZURE_OPENAI_API_VERSION } : {},
      ],
    ];
  return candidates.flatMap(([kind, apiKey, baseUrl, options]) => {
    const url = baseUrl ?? DEFAULT_BASE_URLS[kind];
    // A provider is configured when it has a credential, or (keyless kinds) an explicit URL.
    if (!url || (!apiKey && !(kind === "ollama" && baseUrl))) return [];
    return [{ name: kind, kind, baseUrl: url, apiKey, options }];
  });
}

/** A stored provider with its credential decrypted; a row that cannot be used is skipped with a reason. */
export async function providerFromRow(
  row: ProviderRow,
  masterKey: string | undefined,
): Promise<{ target: ProviderTarget } | { skipped: string }> {
  if (!row.enabled) return { skipped: "disabled" };
  const baseUrl = row.base_url || DEFAULT_BASE_URLS[row.kind];
  if (!baseUrl) return { skipped: "no base_url" };
  let apiKey: string | undefined;
  if (row.credentials_encrypted) {
    if (!masterKey) return { skipped: "has encrypted credentials but MASTER_KEY is not set" };
    try {
      apiKey = await decryptSecret(
        row.credentials_encrypted,
        masterKey,
        providerSecretContext({ name: row.name, kind: row.kind, baseUrl }),
      );
    } catch (error) {
      return { skipped: error instanceof Error ? error.message : "credentials cannot be decrypted" };
    }
  }
  const options = (row.options ?? {}) as { apiVersion?: string; headers?: Record<string, string> };
  return { target: { name: row.name, kind: row.kind, baseUrl, apiKey, options } };
}
