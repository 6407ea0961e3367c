import { readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { createDb, createPocketBase, type Db, modelToRow, type PlanRow, planToRow } from "@cloudfreedom/db";
import { publishTenantKeys } from "@cloudfreedom/keyring";
import { closeRedis, createRedis } from "@cloudfreedom/queue";
import {
  apiKeyDisplayPrefix,
  DEFAULT_KEY_SCOPES,
  encryptSecret,
  generateApiKeySecret,
  hashApiKey,
  ModelCatalogEntry,
  Plan,
  providerSecretContext,
  redisKeys,
} from "@cloudfreedom/shared";
import { z } from "zod";

type Redis = ReturnType<typeof createRedis>;

const SEED_DIR = fileURLToPath(new URL("../../infra/seed/", import.meta.url));
const DEMO_TENANT = { slug: "demo", name: "Demo Tenant", plan: "professional" } as const;

export function loadSeedData(dir = SEED_DIR): {
  plans: Plan[];
  models: ModelCatalogEntry[];
  sandbox: ModelCatalogEntry[];
} {
  const read = (file: string) => JSON.parse(readFileSync(join(dir, file), "utf8")) as unknown;
  return {
    plans: z.array(Plan).parse(read("plans.json")),
    models: z.array(ModelCatalogEntry).parse(read("models.json")),
    sandbox: z.array(ModelCatalogEntry).parse(read("sandbox.json")),
  };
}

/** The `sandbox` provider (credential encrypted like any provider's) and its models, upserted. */
async function seedSandbox(
  db: Db,
  sandbox: NonNullable<SeedOptions["sandbox"]>,
  log: (line: string) => void,
): Promise<void> {
  const providers = db.operator.collection("providers");
  const row = {
    name: "sandbox",
    kind: "openai" as const,
    base_url: sandbox.baseUrl,
    enabled: true,
    credentials_encrypted: await encryptSecret(
      sandbox.apiKey,
      sandbox.masterKey,
      providerSecretContext({ name: "sandbox", kind: "openai", baseUrl: sandbox.baseUrl }),
    ),
  };
  const existing = await providers.getFirst({ filter: "name = {:name}", params: { name: "sandbox" } });
  await (existing ? providers.update(existing.id, row) : providers.create(row));
  const modelRows = db.operator.collection("models");
  for (const model of loadSeedData().sandbox) {
    const found = await modelRows.getFirst({ filter: "model_id = {:id}", params: { id: model.model_id } });
    await (found ? modelRows.update(found.id, modelToRow(model)) : modelRows.create(modelToRow(model)));
  }
  log(`sandbox provider at ${sandbox.baseUrl} with models "sandbox" and "sandbox-embedding"`);
}

/** With the sandbox off, a `sandbox` provider an earlier start stored is disabled, so nothing routes to it. */
async function disableSandbox(db: Db, log: (line: string) => void): Promise<void> {
  const providers = db.operator.collection("providers");
  const existing = await providers.getFirst({ filter: "name = {:name}", params: { name: "sandbox" } });
  if (!existing?.enabled) return;
  await providers.update(existing.id, { enabled: false });
  log('sandbox provider disabled (SANDBOX=false); models "sandbox" and "sandbox-embedding" answer no more');
}

export interface SeedOptions {
  pocketbaseUrl: string;
  adminEmail: string;
  adminPassword: string;
  redisUrl: string;
  /** Reuse this demo key when its hash is already stored; otherwise a new one is made. */
  demoKey: string | undefined;
  /**
   * The local sandbox provider (an OpenAI emulator) and its models, so a fresh install answers. Without it, a
   * sandbox provider stored by an earlier run is disabled.
   */
  sandbox?: { baseUrl: string; apiKey: string; masterKey: string };
  log: (line: string) => void;
}

export interface SeedResult {
  tenantSlug: string;
  planSlug: string;
  demoKey: string;
}

/**
 * Deletes every `cf:*` key of the Redis db at `redisUrl` (KeyRecords, counters, holds, queues; not the test
 * suites' `cf:test:*` leases): state of an earlier platform whose PocketBase is gone. Without this, a start
 * "from scratch" on a kept Redis would let the old platform's keys through the router (it reads keys from
 * Redis only) and leave its jobs to fail. Returns how many keys were deleted.
 */
export async function clearPlatformState(redisUrl: string): Promise<number> {
  const redis = createRedis({ url: redisUrl, purpose: "queue" });
  try {
    let deleted = 0;
    let cursor = "0";
    do {
      const [next, keys] = await redis.scan(cursor, "MATCH", "cf:*", "COUNT", 1000);
      cursor = next;
      // Test suites lease their dbs with `cf:test:lease:*` keys on db 0; those are not a platform's.
      const platform = keys.filter((key) => !key.startsWith("cf:test:"));
      if (platform.length > 0) deleted += await redis.unlink(...platform);
    } while (cursor !== "0");
    return deleted;
  } finally {
    await closeRedis(redis);
  }
}

/** Idempotent: plans and models are upserted by slug / model id; the demo tenant and key are reused. */
export async function seed(options: SeedOptions): Promise<SeedResult> {
  const db = createDb(
    createPocketBase({
      url: options.pocketbaseUrl,
      adminEmail: options.adminEmail,
      adminPassword: options.adminPassword,
    }),
  );
  const { plans, models } = loadSeedData();
  const redis = createRedis({ url: options.redisUrl, purpose: "queue" });
  try {
    return await seedWith(db, redis, plans, models, options);
  } finally {
    await closeRedis(redis);
  }
}

async function seedWith(
  db: Db,
  redis: Redis,
  plans: Plan[],
  models: ModelCatalogEntry[],
  options: SeedOptions,
): Promise<SeedResult> {
  const planRows = db.operator.collection("plans");
  const savedPlans = new Map<string, PlanRow>();
  for (const plan of plans) {
    const existing = await planRows.getFirst({ filter: "slug = {:slug}", params: { slug: plan.slug } });
    const row = planToRow(plan);
    // Stripe prices are the deployment's (set with PATCH /v1/plans, as the README's Stripe setup says): a seed
    // file without one leaves the stored one alone.
    if (existing && plan.stripe_price_id === null) row.stripe_price_id = existing.stripe_price_id;
    if (existing && !plan.stripe_overage_price_id)
      row.stripe_overage_price_id = existing.stripe_overage_price_id;
    // The plan's tenants' KeyRecords carry its old limits: noted before the row changes, so a start cut
    // short before their refresh finishes it at the next one.
    if (
      existing &&
      Object.entries(row).some(([field, value]) => !sameValue(existing[field as keyof PlanRow], value))
    )
      await redis.sadd(redisKeys.seedPlansToRefresh, existing.id);
    savedPlans.set(
      plan.slug,
      existing ? await planRows.update(existing.id, row) : await planRows.create(row),
    );
  }
  const modelRows = db.operator.collection("models");
  for (const model of models) {
    const existing = await modelRows.getFirst({ filter: "model_id = {:id}", params: { id: model.model_id } });
    const row = modelToRow(model);
    await (existing ? modelRows.update(existing.id, row) : modelRows.create(row));
  }
  options.log(`${plans.length} plans, ${models.length} models`);
  if (options.sandbox) await seedSandbox(db, options.sandbox, options.log);
  else await disableSandbox(db, options.log);

  const tenants = db.operator.collection("tenants");
  const plan = savedPlans.get(DEMO_TENANT.plan);
  if (!plan)
    throw new Error(`infra/seed/plans.json lacks the "${DEMO_TENANT.plan}" plan the demo tenant uses`);
  const tenant =
    (await tenants.getFirst({ filter: "slug = {:slug}", params: { slug: DEMO_TENANT.slug } })) ??
    (await tenants.create({
      slug: DEMO_TENANT.slug,
      name: DEMO_TENANT.name,
      plan: plan.id,
      tier: plan.tier,
      currency: plan.currency,
      status: "active",
    }));

  const keys = db.forTenant(tenant.id).collection("api_keys");
  const reused = options.demoKey
    ? await keys.getFirst({ filter: "hash = {:hash}", params: { hash: await hashApiKey(options.demoKey) } })
    : null;
  let secret = options.demoKey ?? "";
  let key = reused;
  if (!key) {
    // A key given in DEMO_API_KEY is created as given (a fresh database); otherwise a new one is made.
    secret =
      options.demoKey && /^cf_[a-z]+_[0-9A-Za-z]{32}$/.test(options.demoKey)
        ? options.demoKey
        : generateApiKeySecret("cf_live");
    key = await keys.create({
      hash: await hashApiKey(secret),
      prefix: apiKeyDisplayPrefix(secret),
      name: "demo key",
      // The billing scope too, so the quick start can try the billing API (budget, usage) with this key.
      scopes: [...DEFAULT_KEY_SCOPES, "billing"],
    });
    options.log(`created the demo key for tenant "${tenant.slug}"`);
  }

  await refreshKeys(db, redis, tenant.id, options.log);
  return { tenantSlug: tenant.slug, planSlug: plan.slug, demoKey: secret };
}

/**
 * The router reads keys from Redis only (DESIGN.md §5): the demo tenant's (Redis may have lost them since the
 * last start) and those of every tenant on a plan the seed changed are written again, built as auth and billing
 * build them (standing budgets, the subscription's plan and tier), under the tenant's keyring lock; running
 * routers drop their copies. A plan leaves the to-refresh set once all its tenants are written; a tenant that
 * failed is said, and the next start tries again.
 */
async function refreshKeys(db: Db, redis: Redis, demoTenantId: string, log: (line: string) => void) {
  const changed = await redis.smembers(redisKeys.seedPlansToRefresh);
  const byPlan = new Map<string, string[]>();
  for (const planId of changed) {
    const rows = await db.operator
      .collection("tenants")
      .listAll({ filter: "plan = {:plan}", params: { plan: planId } });
    byPlan.set(
      planId,
      rows.map((row) => row.id),
    );
  }
  const tenants = new Set([demoTenantId, ...[...byPlan.values()].flat()]);
  const failed = new Set<string>();
  for (const tenantId of tenants) {
    try {
      await publishTenantKeys({ db, redis, tenantId });
    } catch (error) {
      failed.add(tenantId);
      log(`could not refresh the keys of tenant ${tenantId} (${String(error)}); the next start tries again`);
    }
  }
  for (const [planId, ids] of byPlan)
    if (!ids.some((id) => failed.has(id))) await redis.srem(redisKeys.seedPlansToRefresh, planId);
  if (changed.length > 0)
    log(
      `${changed.length} plan(s) changed from the seed file: refreshed the keys of ${tenants.size - failed.size} tenant(s)`,
    );
}

/** Whether a stored field holds what the seed would write (JSON fields compared by content). */
function sameValue(stored: unknown, seeded: unknown): boolean {
  return JSON.stringify(stored ?? null) === JSON.stringify(seeded ?? null);
}
