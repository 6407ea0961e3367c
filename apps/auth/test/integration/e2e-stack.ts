import { createDb, createPocketBase, type Db, modelToRow } from "@cloudfreedom/db";
import { encryptSecret, type ModelCatalogEntry, providerSecretContext } from "@cloudfreedom/shared";
import {
  createPlan,
  type EmulatorHandle,
  type LeasedRedisDb,
  leaseRedisDb,
  type ServiceProcess,
  type StartedPocketBase,
  startOpenAIEmulator,
  startPocketBase,
  startServiceProcess,
  uniqueSuffix,
} from "@cloudfreedom/testing";
import { INTERNAL_TOKEN, MASTER_KEY } from "./harness.ts";

/** The seed's example assignments (seed 003, "Review Tier Assignments"), all served by the OpenAI emulator. */
function model(
  id: string,
  name: string,
  required: "free" | "pro" | "enterprise",
  allowed: ModelCatalogEntry["allowed_tiers"],
): ModelCatalogEntry {
  return {
    model_id: id,
    display_name: name,
    deployments: [{ id: `openai/${id}`, provider: "openai", upstream_model: id, weight: 1 }],
    prices: {
      input_per_million: 1_000_000,
      cached_input_per_million: 500_000,
      output_per_million: 2_000_000,
    },
    required_tier: required,
    tier_restriction_mode: "minimum",
    allowed_tiers: allowed,
    is_available: true,
    context_window: 128_000,
    max_output_tokens: 4_096,
    capabilities: ["chat"],
  };
}
export const SEED_MODELS = [
  model("gpt-5", "GPT-5", "enterprise", ["enterprise"]),
  model("claude-3.5-sonnet", "Claude 3.5 Sonnet", "pro", ["pro", "enterprise"]),
  model("gemini-2.0-pro", "Gemini 2.0 Pro", "pro", ["pro", "enterprise"]),
];

export interface TierStack {
  db: Db;
  pocketbase: StartedPocketBase;
  redisDb: LeasedRedisDb;
  openai: EmulatorHandle;
  auth: ServiceProcess;
  router: ServiceProcess;
  /** A second router with ENABLE_TIER_ENFORCEMENT=false. */
  openRouter: ServiceProcess;
  plans: { free: string; pro: string; enterprise: string };
  stop(): Promise<void>;
}

/** PocketBase, Redis, the OpenAI emulator, auth and two routers as processes, catalog seeded with the seed's models. */
export async function startTierStack(): Promise<TierStack> {
  const [pocketbase, redisDb, openai] = await Promise.all([
    startPocketBase(),
    leaseRedisDb(),
    startOpenAIEmulator(),
  ]);
  const db = createDb(
    createPocketBase({
      url: pocketbase.url,
      adminEmail: pocketbase.adminEmail,
      adminPassword: pocketbase.adminPassword,
    }),
  );
  await db.operator.collection("providers").create({
    name: "openai",
    kind: "openai",
    base_url: `${openai.url}/v1`,
    enabled: true,
    credentials_encrypted: await encryptSecret(
      openai.apiKey,
      MASTER_KEY,
      providerSecretContext({ name: "openai", kind: "openai", baseUrl: `${openai.url}/v1` }),
    ),
  });
  for (const entry of SEED_MODELS) await db.operator.collection("models").create(modelToRow(entry));
  const plan = (tier: "free" | "pro" | "enterprise") =>
    createPlan(
      { db },
      {
        slug: `${tier}-${uniqueSuffix(6)}`,
        name: tier,
        tier,
        max_users: 0,
        monthly_budget_micros: 0,
        query_limit: 0,
      },
    );
  const [free, pro, enterprise] = await Promise.all([plan("free"), plan("pro"), plan("enterprise")]);

  const common = {
    REDIS_URL: redisDb.url,
    POCKETBASE_URL: pocketbase.url,
    POCKETBASE_ADMIN_EMAIL: pocketbase.adminEmail,
    POCKETBASE_ADMIN_PASSWORD: pocketbase.adminPassword,
    MASTER_KEY,
    INTERNAL_TOKEN,
  };
  const auth = await startServiceProcess({ app: "auth", env: { ...common, DEFAULT_PLAN_SLUG: free.slug } });
  const routerEnv = {
    ...common,
    AUTH_INTERNAL_URL: auth.url,
    LOG_REQUESTS: "false",
    KEY_CACHE_TTL_MS: "60000",
  };
  const [router, openRouter] = await Promise.all([
    startServiceProcess({ app: "router", env: routerEnv }),
    startServiceProcess({ app: "router", env: { ...routerEnv, ENABLE_TIER_ENFORCEMENT: "false" } }),
  ]);
  await Promise.all([router, openRouter].map((r) => r.waitForLog((entry) => entry.msg === "catalog loaded")));
  return {
    db,
    pocketbase,
    redisDb,
    openai,
    auth,
    router,
    openRouter,
    plans: { free: free.id, pro: pro.id, enterprise: enterprise.id },
    stop: async () => {
      await Promise.all([auth, router, openRouter].map((p) => p.stop("SIGKILL")));
      await Promise.all([openai.stop(), pocketbase.stop(), redisDb.release()]);
    },
  };
}
