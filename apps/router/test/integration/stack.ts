import { type CreateOf, createDb, createPocketBase, type Db, modelToRow } from "@cloudfreedom/db";
import { encryptSecret, type ModelCatalogEntry, providerSecretContext } from "@cloudfreedom/shared";
import {
  createApiKey,
  createPlan,
  createTenant,
  type EmulatorHandle,
  type LeasedRedisDb,
  leaseRedisDb,
  type ServiceProcess,
  type StartedPocketBase,
  startAnthropicEmulator,
  startGeminiEmulator,
  startOllamaEmulator,
  startOpenAIEmulator,
  startPocketBase,
  startServiceProcess,
} from "@cloudfreedom/testing";

export const MASTER_KEY = Buffer.alloc(32, 42).toString("base64");

export interface Emulators {
  openai: EmulatorHandle;
  backup: EmulatorHandle;
  anthropic: EmulatorHandle;
  gemini: EmulatorHandle;
  ollama: EmulatorHandle;
}

export interface RouterStack {
  url: string;
  key: string;
  tenantId: string;
  db: Db;
  redisDb: LeasedRedisDb;
  pocketbase: StartedPocketBase;
  emulators: Emulators;
  router: ServiceProcess;
  env: Record<string, string>;
  /** A key with its own overrides (tier, scopes, allowlist, revoked, expiry). */
  newKey(overrides?: Parameters<typeof createApiKey>[2]): Promise<string>;
  /** A key of a new tenant of its own, on a plan with these overrides (budget, query limit, rate limits). */
  newTenantKey(
    plan?: CreateOf<"plans">,
    key?: Parameters<typeof createApiKey>[2],
  ): Promise<{ key: string; tenantId: string }>;
  /** Another router process on the same PocketBase and Redis (stopped with the stack). */
  startRouter(envOverrides?: Record<string, string>): Promise<ServiceProcess>;
  stop(): Promise<void>;
}

export interface StackOptions {
  /** Models added to TEST_MODELS for this suite. */
  models?: ModelCatalogEntry[];
}

const prices = {
  input_per_million: 1_000_000,
  cached_input_per_million: 500_000,
  output_per_million: 2_000_000,
};

export function model(
  id: string,
  deployments: Array<[provider: string, upstream: string, weight?: number]>,
  extra: Partial<ModelCatalogEntry> = {},
): ModelCatalogEntry {
  return {
    model_id: id,
    display_name: id,
    deployments: deployments.map(([provider, upstream, weight]) => ({
      id: `${provider}/${upstream}`,
      provider,
      upstream_model: upstream,
      weight: weight ?? 1,
    })),
    prices,
    required_tier: "free",
    tier_restriction_mode: "minimum",
    allowed_tiers: [],
    is_available: true,
    context_window: 128_000,
    max_output_tokens: 4_096,
    capabilities: ["chat", "tools", "vision", "json_schema"],
    ...extra,
  };
}

/** The catalog the router suites use: one model per provider, a fallback pair, embeddings and a gated model. */
export const TEST_MODELS: ModelCatalogEntry[] = [
  model("gpt-test", [["openai", "gpt-4o-mini"]]),
  model("claude-test", [["anthropic", "claude-3-5-sonnet-20241022"]]),
  model("gemini-test", [["gemini", "gemini-2.0-flash"]]),
  model("llama-test", [["ollama", "llama3.2"]]),
  model("azure-test", [["azure", "gpt4o-deployment"]]),
  model("instruct-test", [["openai", "gpt-3.5-turbo-instruct"]], { capabilities: ["chat", "completions"] }),
  // Weights 1,000,000 : 1 make the first pick deterministic in practice.
  model("fallback-test", [
    ["openai", "gpt-4o-mini", 1_000_000],
    ["backup", "gpt-4o-mini", 1],
  ]),
  model("circuit-test", [
    ["openai", "gpt-4o", 1_000_000],
    ["backup", "gpt-4o", 1],
  ]),
  model("embed-test", [["openai", "text-embedding-3-small"]], { capabilities: ["embeddings"] }),
  model("gemini-embed-test", [["gemini", "text-embedding-004"]], { capabilities: ["embeddings"] }),
  model("ollama-embed-test", [["ollama", "nomic-embed-text"]], { capabilities: ["embeddings"] }),
  model("enterprise-test", [["openai", "gpt-4o"]], { required_tier: "enterprise" }),
  // Its only provider is not configured: listed, answers 503.
  model("unconfigured-test", [["nowhere", "gpt-4o"]]),
  // One of its two providers is configured: served by that one.
  model("partly-configured-test", [
    ["nowhere", "gpt-4o", 1_000_000],
    ["openai", "gpt-4o-mini", 1],
  ]),
];

export async function startRouterStack(
  envOverrides: Record<string, string> = {},
  options: StackOptions = {},
): Promise<RouterStack> {
  const [pocketbase, redisDb, openai, backup, anthropic, gemini, ollama] = await Promise.all([
    startPocketBase(),
    leaseRedisDb(),
    startOpenAIEmulator(),
    startOpenAIEmulator(),
    startAnthropicEmulator(),
    startGeminiEmulator(),
    startOllamaEmulator(),
  ]);
  const emulators = { openai, backup, anthropic, gemini, ollama };
  const db = createDb(
    createPocketBase({
      url: pocketbase.url,
      adminEmail: pocketbase.adminEmail,
      adminPassword: pocketbase.adminPassword,
    }),
  );
  const providers = db.operator.collection("providers");
  const provider = async (
    name: string,
    kind: "openai" | "anthropic" | "gemini" | "ollama" | "azure",
    base: string,
    key: string,
  ) =>
    providers.create({
      name,
      kind,
      base_url: base,
      enabled: true,
      credentials_encrypted: key
        ? await encryptSecret(key, MASTER_KEY, providerSecretContext({ name, kind, baseUrl: base }))
        : "",
      options: kind === "azure" ? { apiVersion: "2024-10-21" } : null,
    });
  await Promise.all([
    provider("openai", "openai", `${openai.url}/v1`, openai.apiKey),
    provider("backup", "openai", `${backup.url}/v1`, backup.apiKey),
    provider("anthropic", "anthropic", anthropic.url, anthropic.apiKey),
    provider("gemini", "gemini", gemini.url, gemini.apiKey),
    provider("ollama", "ollama", ollama.url, ""),
    provider("azure", "azure", openai.url, openai.apiKey),
    ...[...TEST_MODELS, ...(options.models ?? [])].map((entry) =>
      db.operator.collection("models").create(modelToRow(entry)),
    ),
  ]);
  const tenant = await createTenant({ db });
  const newKey = async (overrides: Parameters<typeof createApiKey>[2] = {}) =>
    (await createApiKey({ db, redis: redisDb.redis }, tenant, { tier: "pro", ...overrides })).secret;
  const key = await newKey();
  const newTenantKey = async (
    plan: CreateOf<"plans"> = {},
    overrides: Parameters<typeof createApiKey>[2] = {},
  ) => {
    const own = await createTenant({ db }, { plan: await createPlan({ db }, plan) });
    const created = await createApiKey({ db, redis: redisDb.redis }, own, { tier: "pro", ...overrides });
    return { key: created.secret, tenantId: own.id };
  };
  const env = {
    REDIS_URL: redisDb.url,
    POCKETBASE_URL: pocketbase.url,
    POCKETBASE_ADMIN_EMAIL: pocketbase.adminEmail,
    POCKETBASE_ADMIN_PASSWORD: pocketbase.adminPassword,
    MASTER_KEY,
    RETRY_BASE_MS: "20",
    RETRY_MAX_MS: "200",
    LOG_REQUESTS: "false",
    ...envOverrides,
  };
  const routers: ServiceProcess[] = [];
  const startRouter = async (overrides: Record<string, string> = {}) => {
    const started = await startServiceProcess({ app: "router", env: { ...env, ...overrides } });
    routers.push(started);
    await started.waitForLog((entry) => entry.msg === "catalog loaded");
    return started;
  };
  const router = await startRouter();
  return {
    url: router.url,
    key,
    tenantId: tenant.id,
    db,
    redisDb,
    pocketbase,
    emulators,
    router,
    env,
    newKey,
    newTenantKey,
    startRouter,
    stop: async () => {
      await Promise.all(routers.map((started) => started.stop("SIGKILL")));
      await Promise.all([
        ...Object.values(emulators).map((e) => e.stop()),
        pocketbase.stop(),
        redisDb.release(),
      ]);
    },
  };
}
