// What scripts/provider.ts stores: its command line read, and the provider row built from it and the stored row.
import { parseArgs } from "node:util";
import type { ProviderRow } from "@cloudfreedom/db";
import {
  DEFAULT_PROVIDER_BASE_URLS,
  decryptSecret,
  encryptSecret,
  ProviderKind,
  providerSecretContext,
} from "@cloudfreedom/shared";

export const USAGE = `usage: PROVIDER_API_KEY=<key> bun scripts/provider.ts --name <name> --kind <${ProviderKind.options.join("|")}> [--base-url URL] [--api-version V] [--disable | --enable] [--no-key]
  The API key is read from PROVIDER_API_KEY, never from the command line (ps and shell history would keep it).
  Creating a provider needs PROVIDER_API_KEY, except for --kind ollama and for a keyless OpenAI-compatible
  server (--kind openai --base-url URL --no-key). Updating a stored provider keeps its key, base URL and API
  version unless new ones are given (--no-key removes the key). --name is the provider the model catalog's
  deployments name (infra/seed/models.json: openai, anthropic, gemini, ollama, azure, openrouter): models
  route to a provider of that name only.`;

/** A command line that cannot be carried out; the message says what to change. */
export class ProviderCommandError extends Error {}

export interface ProviderCommand {
  help: boolean;
  name: string;
  kind: ProviderKind | undefined;
  baseUrl: string | undefined;
  apiVersion: string | undefined;
  /** undefined: keep the stored state (a new provider is enabled). */
  enabled: boolean | undefined;
  noKey: boolean;
  apiKey: string | undefined;
}

const KEYLESS_KINDS: readonly ProviderKind[] = ["ollama"];

export function parseProviderCommand(args: string[], apiKey: string | undefined): ProviderCommand {
  let values: ReturnType<typeof parse>["values"];
  try {
    values = parse(args).values;
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    throw new ProviderCommandError(
      message.includes("--api-key") ? "pass the key as PROVIDER_API_KEY=<key>, not --api-key" : message,
    );
  }
  const command: ProviderCommand = {
    help: values.help,
    name: values.name ?? "",
    kind: undefined,
    baseUrl: values["base-url"],
    apiVersion: values["api-version"],
    enabled: values.disable ? false : values.enable ? true : undefined,
    noKey: values["no-key"],
    apiKey: apiKey || undefined,
  };
  if (command.help) return command;
  if (!command.name) throw new ProviderCommandError("--name is required");
  if (values.kind !== undefined) {
    const kind = ProviderKind.safeParse(values.kind);
    if (!kind.success) {
      throw new ProviderCommandError(
        `"${values.kind}" is not a valid --kind; valid kinds: ${ProviderKind.options.join(", ")}`,
      );
    }
    command.kind = kind.data;
  }
  if (command.baseUrl !== undefined && !isHttpUrl(command.baseUrl)) {
    throw new ProviderCommandError(
      `--base-url must be an http(s) URL such as http://gpu-box:11434 or https://api.example.com/v1, got "${command.baseUrl}"`,
    );
  }
  if (values.disable && values.enable) throw new ProviderCommandError("give --disable or --enable, not both");
  if (command.noKey && command.apiKey) {
    throw new ProviderCommandError("--no-key stores no key, but PROVIDER_API_KEY is set: unset one of them");
  }
  if (command.noKey && command.kind && command.kind !== "openai" && command.kind !== "ollama") {
    throw new ProviderCommandError(
      `--no-key is for keyless OpenAI-compatible servers (--kind openai --base-url URL); kind ${command.kind} needs PROVIDER_API_KEY`,
    );
  }
  return command;
}

function isHttpUrl(value: string): boolean {
  try {
    const url = new URL(value);
    return (url.protocol === "http:" || url.protocol === "https:") && url.hostname !== "";
  } catch {
    return false;
  }
}

function parse(args: string[]) {
  return parseArgs({
    args,
    options: {
      name: { type: "string" },
      kind: { type: "string" },
      "base-url": { type: "string" },
      "api-version": { type: "string" },
      disable: { type: "boolean", default: false },
      enable: { type: "boolean", default: false },
      "no-key": { type: "boolean", default: false },
      help: { type: "boolean", default: false },
    },
  });
}

export interface ProviderWrite {
  name: string;
  kind: ProviderKind;
  base_url: string;
  enabled: boolean;
  credentials_encrypted: string;
  options: Record<string, unknown> | null;
}

/** How the stored credential ends up: a new key, the stored one kept, none, or the stored one removed. */
export type CredentialOutcome = "new" | "kept" | "none" | "removed";

/**
 * The row to store. A create needs a key unless the provider is keyless; an update keeps what the command
 * does not give (the key is re-sealed when the name, kind or origin it is bound to changed).
 */
export async function buildProviderRow(input: {
  command: ProviderCommand;
  existing: ProviderRow | null;
  masterKey: string;
}): Promise<{ row: ProviderWrite; credential: CredentialOutcome }> {
  const { command, existing, masterKey } = input;
  const kind = command.kind ?? existing?.kind;
  if (!kind) {
    throw new ProviderCommandError(
      `--kind is required to create provider "${command.name}" (${ProviderKind.options.join(", ")})`,
    );
  }
  const base_url = command.baseUrl ?? existing?.base_url ?? "";
  const baseUrl = base_url || DEFAULT_PROVIDER_BASE_URLS[kind];
  if (!baseUrl) throw new ProviderCommandError(`--base-url is required for ${kind}`);
  if (command.noKey && kind === "openai" && !base_url) {
    throw new ProviderCommandError(
      "--no-key is for keyless OpenAI-compatible servers: give their --base-url (api.openai.com needs a key)",
    );
  }
  const context = providerSecretContext({ name: command.name, kind, baseUrl });
  const stored = existing?.credentials_encrypted ?? "";
  let credentials_encrypted = "";
  let credential: CredentialOutcome;
  if (command.apiKey) {
    credentials_encrypted = await encryptSecret(command.apiKey, masterKey, context);
    credential = "new";
  } else if (command.noKey) {
    credential = stored ? "removed" : "none";
  } else if (stored && existing) {
    credentials_encrypted = await resealStored(existing, stored, masterKey, context);
    credential = "kept";
  } else if (existing || KEYLESS_KINDS.includes(kind)) {
    credential = "none";
  } else {
    throw new ProviderCommandError(
      `provider "${command.name}" (kind ${kind}) needs an API key: set PROVIDER_API_KEY=<key>` +
        (kind === "openai"
          ? " (or pass --base-url URL --no-key for a keyless OpenAI-compatible server)"
          : ""),
    );
  }
  const existingOptions = (existing?.options ?? null) as Record<string, unknown> | null;
  return {
    row: {
      name: command.name,
      kind,
      base_url,
      enabled: command.enabled ?? existing?.enabled ?? true,
      credentials_encrypted,
      options: command.apiVersion ? { ...existingOptions, apiVersion: command.apiVersion } : existingOptions,
    },
    credential,
  };
}

async function resealStored(
  existing: ProviderRow,
  stored: string,
  masterKey: string,
  context: string,
): Promise<string> {
  const storedContext = providerSecretContext({
    name: existing.name,
    kind: existing.kind,
    baseUrl: existing.base_url || DEFAULT_PROVIDER_BASE_URLS[existing.kind] || "",
  });
  if (storedContext === context) return stored;
  try {
    return await encryptSecret(await decryptSecret(stored, masterKey, storedContext), masterKey, context);
  } catch {
    throw new ProviderCommandError(
      `the stored key of "${existing.name}" cannot be decrypted with this MASTER_KEY: set PROVIDER_API_KEY=<key> to store it again`,
    );
  }
}

/**
 * The warning for a provider no model of the catalog routes to (models name their deployments' provider), or
 * null when one does.
 */
export function unroutedWarning(
  name: string,
  models: ReadonlyArray<{ deployments: ReadonlyArray<{ provider: string }> | null }>,
): string | null {
  const names = new Set(models.flatMap((model) => (model.deployments ?? []).map((d) => d.provider)));
  if (names.has(name)) return null;
  return `warning: no model of the catalog routes to a provider named "${name}" (its deployments name: ${[...names].sort().join(", ")}); store it under one of those names, or add deployments naming it`;
}
