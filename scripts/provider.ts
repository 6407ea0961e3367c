// Store a provider for the router: its credential encrypted under MASTER_KEY, then a catalog invalidation
// so every router reloads without a restart.
//   PROVIDER_API_KEY=sk-... bun scripts/provider.ts --name openai --kind openai [--base-url URL] [--api-version V]
//   bun scripts/provider.ts --name my-ollama --kind ollama --base-url http://gpu-box:11434
// Reads POCKETBASE_URL, POCKETBASE_ADMIN_EMAIL, POCKETBASE_ADMIN_PASSWORD, MASTER_KEY and REDIS_URL from the
// environment, falling back to the local ones in .data/dev.env that scripts/start generated.

import { existsSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { createDb, createPocketBase } from "@cloudfreedom/db";
import { closeRedis, createRedis } from "@cloudfreedom/queue";
import {
  DEFAULT_PROVIDER_BASE_URLS,
  encryptSecret,
  INVALIDATE_CHANNEL,
  ProviderKind,
  providerSecretContext,
} from "@cloudfreedom/shared";
import { DATA_DIR, loadDevSecrets } from "./dev/config.ts";

const USAGE = `usage: PROVIDER_API_KEY=<key> bun scripts/provider.ts --name <name> --kind <${ProviderKind.options.join("|")}> [--base-url URL] [--api-version V] [--disable]
  The API key is read from PROVIDER_API_KEY, never from the command line (ps and shell history would keep it).`;
const fail = (message: string): never => {
  console.error(`error: ${message}\n${USAGE}`);
  process.exit(1);
};
const parsed = (() => {
  try {
    return parseArgs({
      options: {
        name: { type: "string" },
        kind: { type: "string" },
        "base-url": { type: "string" },
        "api-version": { type: "string" },
        disable: { type: "boolean", default: false },
        help: { type: "boolean", default: false },
      },
    });
  } catch (error) {
    const unknown = error instanceof Error ? error.message : String(error);
    return fail(
      unknown.includes("--api-key") ? "pass the key as PROVIDER_API_KEY=<key>, not --api-key" : unknown,
    );
  }
})();
const values = parsed.values;
if (values.help) {
  console.log(USAGE);
  process.exit(0);
}
const kind = ProviderKind.safeParse(values.kind);
if (!values.name || !kind.success) {
  fail(`--name and --kind (${ProviderKind.options.join(" | ")}) are required`);
}
// The key comes from the environment, not the command line (where `ps` and shell history would keep it).
const apiKey = process.env.PROVIDER_API_KEY;
// Local development falls back to the secrets scripts/start generated; elsewhere everything must be set.
const local = existsSync(join(DATA_DIR, "dev.env")) ? loadDevSecrets() : {};
const env = { ...local, ...process.env } as Record<string, string | undefined>;
const masterKey = env.MASTER_KEY ?? fail("MASTER_KEY is not set");
const db = createDb(
  createPocketBase({
    url: env.POCKETBASE_URL ?? "http://127.0.0.1:8090",
    adminEmail: env.POCKETBASE_ADMIN_EMAIL ?? fail("POCKETBASE_ADMIN_EMAIL is not set"),
    adminPassword: env.POCKETBASE_ADMIN_PASSWORD ?? fail("POCKETBASE_ADMIN_PASSWORD is not set"),
  }),
);
const providerKind = kind.success ? kind.data : "openai";
const baseUrl =
  values["base-url"] ??
  DEFAULT_PROVIDER_BASE_URLS[providerKind] ??
  fail(`--base-url is required for ${providerKind}`);
const row = {
  name: values.name ?? "",
  kind: providerKind,
  base_url: values["base-url"] ?? "",
  enabled: !values.disable,
  credentials_encrypted: apiKey
    ? await encryptSecret(
        apiKey,
        masterKey,
        providerSecretContext({ name: values.name ?? "", kind: providerKind, baseUrl }),
      )
    : "",
  options: values["api-version"] ? { apiVersion: values["api-version"] } : null,
};
const providers = db.operator.collection("providers");
const existing = await providers.getFirst({ filter: "name = {:name}", params: { name: row.name } });
await (existing ? providers.update(existing.id, row) : providers.create(row));
const redis = createRedis({ url: env.REDIS_URL ?? "redis://127.0.0.1:6379", purpose: "queue" });
await redis.publish(INVALIDATE_CHANNEL, JSON.stringify({ kind: "catalog" }));
await closeRedis(redis);
console.log(
  `provider "${row.name}" (${row.kind}) ${existing ? "updated" : "created"}; routers reload their catalog now`,
);
process.exit(0);
