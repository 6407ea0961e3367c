import type {
  ApiKeyRow,
  CreateOf,
  Db,
  MembershipRow,
  ModelRow,
  PlanRow,
  TenantRow,
  UserRow,
} from "@cloudfreedom/db";
import { toPbDate } from "@cloudfreedom/db";
import {
  apiKeyDisplayPrefix,
  buildKeyRecord,
  generateApiKeySecret,
  hashApiKey,
  type KeyRecord,
  type KeyScope,
  redisKeys,
  type Tier,
} from "@cloudfreedom/shared";
import type { Redis } from "ioredis";

/** What factories write through: real PocketBase rows via packages/db, KeyRecords into the suite's Redis. */
export interface FactoryContext {
  db: Db;
  /** Needed by `createApiKey` only. */
  redis?: Redis;
}

/** Lowercase base36, unique enough to keep parallel suites' slugs and emails apart. */
export function uniqueSuffix(length = 10): string {
  const bytes = crypto.getRandomValues(new Uint8Array(length));
  return Array.from(bytes, (byte) => (byte % 36).toString(36)).join("");
}

export function createPlan(ctx: FactoryContext, overrides: CreateOf<"plans"> = {}): Promise<PlanRow> {
  return ctx.db.operator.collection("plans").create({
    slug: `plan-${uniqueSuffix()}`,
    name: "Test Professional",
    tier: "pro",
    price_micros: 29_000_000,
    currency: "EUR",
    interval: "month",
    monthly_budget_micros: 100_000_000,
    query_limit: 0,
    max_users: 0,
    markup_pct: 20,
    rpm: 0,
    tpm: 0,
    features: [],
    is_active: true,
    ...overrides,
  });
}

export function createModel(ctx: FactoryContext, overrides: CreateOf<"models"> = {}): Promise<ModelRow> {
  const modelId = overrides.model_id ?? `test-model-${uniqueSuffix()}`;
  return ctx.db.operator.collection("models").create({
    model_id: modelId,
    display_name: `Test ${modelId}`,
    deployments: [{ provider: "openai", upstream_model: "gpt-4o-mini", weight: 1 }],
    input_price_micros: 150_000,
    cached_input_price_micros: 75_000,
    output_price_micros: 600_000,
    required_tier: "free",
    tier_restriction_mode: "minimum",
    allowed_tiers: [],
    is_available: true,
    context_window: 128_000,
    max_output_tokens: 16_384,
    capabilities: ["chat"],
    ...overrides,
  });
}

export interface TenantOverrides extends Omit<CreateOf<"tenants">, "plan"> {
  /** A plan row or id; `null` for none. Default: a new plan of the tenant's tier. */
  plan?: PlanRow | string | null;
}

/** A tenant with a unique slug and, unless told otherwise, its own new plan. */
export async function createTenant(ctx: FactoryContext, overrides: TenantOverrides = {}): Promise<TenantRow> {
  const { plan: planOverride, ...fields } = overrides;
  const tier: Tier =
    fields.tier ?? (typeof planOverride === "object" && planOverride ? planOverride.tier : "pro");
  const plan = planOverride === undefined ? await createPlan(ctx, { tier }) : planOverride;
  const suffix = uniqueSuffix();
  return ctx.db.operator.collection("tenants").create({
    slug: `t-${suffix}`,
    name: `Test tenant ${suffix}`,
    plan: plan === null ? "" : typeof plan === "string" ? plan : plan.id,
    tier,
    currency: "EUR",
    status: "active",
    ...fields,
  });
}

export interface CreatedUser {
  user: UserRow;
  password: string;
}

export async function createUser(
  ctx: FactoryContext,
  overrides: {
    email?: string;
    password?: string;
    name?: string;
    default_tenant?: string;
    verified?: boolean;
  } = {},
): Promise<CreatedUser> {
  const suffix = uniqueSuffix();
  const password = overrides.password ?? `pw-${uniqueSuffix(20)}`;
  const user = await ctx.db.operator.collection("users").create({
    email: overrides.email ?? `user-${suffix}@cloudfreedom.test`,
    password,
    passwordConfirm: password,
    name: overrides.name ?? `Test user ${suffix}`,
    default_tenant: overrides.default_tenant ?? "",
    verified: overrides.verified ?? true,
  });
  return { user, password };
}

export function createMembership(
  ctx: FactoryContext,
  input: { tenant: TenantRow | string; user: UserRow | string; role?: MembershipRow["role"] },
): Promise<MembershipRow> {
  const tenantId = typeof input.tenant === "string" ? input.tenant : input.tenant.id;
  return ctx.db
    .forTenant(tenantId)
    .collection("memberships")
    .create({
      user: typeof input.user === "string" ? input.user : input.user.id,
      role: input.role ?? "member",
    });
}

export interface ApiKeyOverrides {
  name?: string;
  user?: UserRow | string | null;
  /** The KeyRecord's tier (as if the tenant's subscription said so); the tenant row is left alone. */
  tier?: Tier;
  scopes?: KeyScope[];
  /** Key-level limits; omitted or 0 = the plan's. */
  limits?: { rpm?: number; tpm?: number; budget_micros?: number };
  /** Model allowlist; null/omitted = every model the tier allows. */
  models?: string[] | null;
  expiresAt?: Date | number | null;
  revoked?: boolean;
  /** The tenant's plan, when the caller has it already (saves a read). */
  plan?: PlanRow | null;
}

export interface CreatedApiKey {
  /** The plaintext bearer secret, `cf_test_<32 base62>`. */
  secret: string;
  /** SHA-256 hex of `secret`: the Redis key suffix and the row's `hash`. */
  hash: string;
  row: ApiKeyRow;
  record: KeyRecord;
}

/** A key row in PocketBase plus its KeyRecord at `cf:key:<hash>` in Redis, as auth would leave them. */
export async function createApiKey(
  ctx: FactoryContext & { redis: Redis },
  tenant: TenantRow,
  overrides: ApiKeyOverrides = {},
): Promise<CreatedApiKey> {
  const secret = generateApiKeySecret("cf_test");
  const hash = await hashApiKey(secret);
  const user = overrides.user ?? null;
  const row = await ctx.db
    .forTenant(tenant.id)
    .collection("api_keys")
    .create({
      hash,
      prefix: apiKeyDisplayPrefix(secret),
      name: overrides.name ?? "test key",
      user: user === null ? "" : typeof user === "string" ? user : user.id,
      scopes: overrides.scopes ?? ["chat", "completions", "embeddings", "models"],
      allowed_models: overrides.models ?? null,
      rpm: overrides.limits?.rpm ?? 0,
      tpm: overrides.limits?.tpm ?? 0,
      budget_micros: overrides.limits?.budget_micros ?? 0,
      expires_at:
        overrides.expiresAt === null || overrides.expiresAt === undefined
          ? ""
          : toPbDate(overrides.expiresAt),
      revoked_at: overrides.revoked ? toPbDate(Date.now()) : "",
    });
  const plan =
    overrides.plan !== undefined
      ? overrides.plan
      : tenant.plan
        ? await ctx.db.operator.collection("plans").getOne(tenant.plan)
        : null;
  const record = buildKeyRecord({
    tenant: { ...tenant, tier: overrides.tier ?? tenant.tier },
    plan,
    key: row,
  });
  await ctx.redis.set(redisKeys.keyRecord(hash), JSON.stringify(record));
  return { secret, hash, row, record };
}
