// Store a provider for the router: its credential encrypted under MASTER_KEY, then a catalog invalidation
// so every router reloads without a restart.
//   bun scripts/provider.ts --name openai --kind openai --api-key sk-... [--base-url URL] [--api-version V]
//   bun scripts/provider.ts --name my-ollama --kind ollama --base-url http://gpu-box:11434
// Reads POCKETBASE_URL, POCKETBASE_ADMIN_EMAIL, POCKETBASE_ADMIN_PASSWORD, MASTER_KEY and REDIS_URL from the
// environment, falling back to the local ones in .data/dev.env that scripts/start generated.
import { parseArgs } from "node:util";
import { createDb, createPocketBase } from "@cloudfreedom/db";
import { closeRedis, createRedis } from "@cloudfreedom/queue";
import { INVALIDATE_CHANNEL, ProviderKind, encryptSecret } from "@cloudfreedom/shared";
import { loadDevSecrets } from "./dev/config.ts";

const { values } = parseArgs({
  options: {
    name: { type: "string" },
    kind: { type: "string" },
    "api-key": { type: "string" },
    "base-url": { type: "string" },
    "api-version": { type: "string" },
    disable: { type: "boolean", default: false },
  },
});
const fail = (message: string): never => {
  console.error(`error: ${message}`);
  process.exit(1);
};
const kind = ProviderKind.safeParse(values.kind);
if (!values.name || !kind.success) {
  fail(`--name and --kind (${ProviderKind.options.join(" | ")}) are required`);
}
const env = { ...loadDevSecrets(), ...process.env } as Record<string, string | undefined>;
const masterKey = env.MASTER_KEY ?? fail("MASTER_KEY is not set");
const db = createDb(
  createPocketBase({
    url: env.POCKETBASE_URL ?? "http://127.0.0.1:8090",
    adminEmail: env.POCKETBASE_ADMIN_EMAIL ?? fail("POCKETBASE_ADMIN_EMAIL is not set"),
    adminPassword: env.POCKETBASE_ADMIN_PASSWORD ?? fail("POCKETBASE_ADMIN_PASSWORD is not set"),
  }),
);
const row = {
  name: values.name ?? "",
  kind: kind.success ? kind.data : "openai",
  base_url: values["base-url"] ?? "",
  enabled: !values.disable,
  credentials_encrypted: values["api-key"] ? await encryptSecret(values["api-key"], masterKey) : "",
  options: values["api-version"] ? { apiVersion: values["api-version"] } : null,
};
const providers = db.operator.collection("providers");
const existing = await providers.getFirst({ filter: "name = {:name}", params: { name: row.name } });
await (existing ? providers.update(existing.id, row) : providers.create(row));
const redis = createRedis({ url: env.REDIS_URL ?? "redis://127.0.0.1:6379", purpose: "queue" });
await redis.publish(INVALIDATE_CHANNEL, JSON.stringify({ kind: "catalog" }));
await closeRedis(redis);
console.log(`provider "${row.name}" (${row.kind}) ${existing ? "updated" : "created"}; routers reload their catalog now`);
process.exit(0);
