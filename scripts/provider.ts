// Store a provider for the router: its credential encrypted under MASTER_KEY, then a catalog invalidation
// so every router reloads without a restart.
//   PROVIDER_API_KEY=sk-... bun scripts/provider.ts --name openai --kind openai [--base-url URL] [--api-version V]
//   bun scripts/provider.ts --name ollama --kind ollama --base-url http://gpu-box:11434
//   bun scripts/provider.ts --name openai --disable        (keeps the stored key)
// Reads POCKETBASE_URL, POCKETBASE_ADMIN_EMAIL, POCKETBASE_ADMIN_PASSWORD, MASTER_KEY and REDIS_URL from the
// environment, falling back to the local ones in .data/dev.env that scripts/start generated.

import { existsSync } from "node:fs";
import { join } from "node:path";
import { createDb, createPocketBase } from "@cloudfreedom/db";
import { closeRedis, createRedis } from "@cloudfreedom/queue";
import { INVALIDATE_CHANNEL } from "@cloudfreedom/shared";
import { DATA_DIR, loadDevSecrets } from "./dev/config.ts";
import {
  buildProviderRow,
  type CredentialOutcome,
  type ProviderCommand,
  ProviderCommandError,
  parseProviderCommand,
  USAGE,
  unroutedWarning,
} from "./provider/command.ts";

const fail = (message: string): never => {
  console.error(`error: ${message}\n${USAGE}`);
  process.exit(1);
};
// Anything else that goes wrong (a malformed MASTER_KEY, PocketBase or Redis unreachable) is one line too.
for (const event of ["uncaughtException", "unhandledRejection"] as const)
  process.on(event, (error: unknown) => {
    console.error(`error: ${error instanceof Error ? error.message : String(error)}`);
    process.exit(1);
  });
const attempt = <T>(run: () => T): T => {
  try {
    return run();
  } catch (error) {
    if (error instanceof ProviderCommandError) return fail(error.message);
    throw error;
  }
};

// The key comes from the environment, not the command line (where `ps` and shell history would keep it).
const command: ProviderCommand = attempt(() =>
  parseProviderCommand(process.argv.slice(2), process.env.PROVIDER_API_KEY),
);
if (command.help) {
  console.log(USAGE);
  process.exit(0);
}
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
const providers = db.operator.collection("providers");
const existing = await providers.getFirst({ filter: "name = {:name}", params: { name: command.name } });
const { row, credential } = await buildProviderRow({ command, existing, masterKey }).catch(
  (error: unknown) => {
    if (error instanceof ProviderCommandError) return fail(error.message);
    throw error;
  },
);
await (existing ? providers.update(existing.id, row) : providers.create(row));
const redis = createRedis({ url: env.REDIS_URL ?? "redis://127.0.0.1:6379", purpose: "queue" });
await redis.publish(INVALIDATE_CHANNEL, JSON.stringify({ kind: "catalog" }));
await closeRedis(redis);
const keyNote: Record<CredentialOutcome, string> = {
  new: "key stored",
  kept: "stored key kept",
  none: "no key",
  removed: "stored key removed",
};
console.log(
  `provider "${row.name}" (${row.kind}, ${row.enabled ? "enabled" : "disabled"}, ${keyNote[credential]}) ${existing ? "updated" : "created"}; routers reload their catalog now`,
);
// Models route to a provider by name: one no catalog deployment names serves nothing.
const warning = unroutedWarning(row.name, await db.operator.collection("models").listAll({}));
if (warning) console.warn(warning);
process.exit(0);
