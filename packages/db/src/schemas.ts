import {
  Currency,
  KeyScope,
  ProviderKind,
  Tier,
  TierRestrictionMode,
  UsageStatus,
} from "@cloudfreedom/shared";
import { z } from "zod";

/**
 * Rows as PocketBase returns them (infra/pocketbase/pb_migrations). PocketBase encodes "empty" per field
 * type: text, select, date and relation as "", number as 0 (our migrations use 0 for "no limit"),
 * json as null. Rows keep that encoding; conversions to contracts (KeyRecord, Plan) happen at the edges.
 */
const PbDate = z.string(); // "" or "2026-11-23 10:00:00.000Z"
const Relation = z.string(); // "" or a record id
const Count = z.number().int().nonnegative();

export const BaseRow = z.object({ id: z.string().min(1), created: PbDate, updated: PbDate });

export const PlanRow = BaseRow.extend({
  slug: z.string(),
  name: z.string(),
  description: z.string(),
  tier: Tier,
  price_micros: Count,
  currency: Currency,
  interval: z.enum(["month", "year", "custom"]),
  monthly_budget_micros: Count,
  query_limit: Count,
  max_users: Count,
  /** Whole percent (20 = +20 %). */
  markup_pct: Count,
  rpm: Count,
  tpm: Count,
  stripe_price_id: z.string(),
  features: z.array(z.string()).nullable(),
  is_active: z.boolean(),
});
export type PlanRow = z.infer<typeof PlanRow>;

export const TenantRow = BaseRow.extend({
  slug: z.string(),
  name: z.string(),
  plan: Relation,
  tier: Tier,
  currency: Currency,
  status: z.enum(["active", "suspended", "closed"]),
  stripe_customer_id: z.string(),
  stripe_subscription_id: z.string(),
  settings: z.record(z.string(), z.unknown()).nullable(),
});
export type TenantRow = z.infer<typeof TenantRow>;

export const UserRow = BaseRow.extend({
  email: z.string(),
  verified: z.boolean(),
  name: z.string(),
  default_tenant: Relation,
});
export type UserRow = z.infer<typeof UserRow>;

export const MembershipRow = BaseRow.extend({
  tenant: Relation,
  user: Relation,
  role: z.enum(["owner", "admin", "member"]),
  invited_by: Relation,
});
export type MembershipRow = z.infer<typeof MembershipRow>;

export const ApiKeyRow = BaseRow.extend({
  hash: z.string(),
  prefix: z.string(),
  tenant: Relation,
  user: Relation,
  name: z.string(),
  scopes: z.array(KeyScope).nullable(),
  /** null = every model the tier allows. */
  allowed_models: z.array(z.string()).nullable(),
  rpm: Count,
  tpm: Count,
  budget_micros: Count,
  expires_at: PbDate,
  revoked_at: PbDate,
  grace_until: PbDate,
  last_used_at: PbDate,
  rotated_from: Relation,
});
export type ApiKeyRow = z.infer<typeof ApiKeyRow>;

export const ProviderRow = BaseRow.extend({
  name: z.string(),
  kind: ProviderKind,
  base_url: z.string(),
  credentials_encrypted: z.string(),
  enabled: z.boolean(),
  options: z.record(z.string(), z.unknown()).nullable(),
});
export type ProviderRow = z.infer<typeof ProviderRow>;

export const ModelRow = BaseRow.extend({
  model_id: z.string(),
  display_name: z.string(),
  description: z.string(),
  deployments: z
    .array(
      z.object({
        id: z.string().optional(),
        provider: z.string(),
        upstream_model: z.string(),
        weight: z.number().optional(),
      }),
    )
    .nullable(),
  input_price_micros: Count,
  cached_input_price_micros: Count,
  output_price_micros: Count,
  required_tier: z.union([Tier, z.literal("")]),
  tier_restriction_mode: z.union([TierRestrictionMode, z.literal("")]),
  allowed_tiers: z.array(Tier).nullable(),
  is_available: z.boolean(),
  context_window: Count,
  max_output_tokens: Count,
  capabilities: z.array(z.string()).nullable(),
});
export type ModelRow = z.infer<typeof ModelRow>;

export const UsageLogRow = BaseRow.extend({
  tenant: Relation,
  event_id: z.string(),
  request_id: z.string(),
  reservation_id: z.string(),
  source: z.enum(["router", "api"]),
  api_key: Relation,
  user: Relation,
  model: z.string(),
  provider: z.string(),
  deployment: z.string(),
  upstream_model: z.string(),
  input_tokens: Count,
  cached_input_tokens: Count,
  output_tokens: Count,
  reasoning_tokens: Count,
  cost_micros: Count,
  billed_micros: Count,
  latency_ms: Count,
  attempts: Count,
  status: UsageStatus,
  http_status: Count,
  error_code: z.string(),
  estimated: z.boolean(),
  stream: z.boolean(),
  period: z.string(),
  occurred_at: PbDate,
  metadata: z.record(z.string(), z.unknown()).nullable(),
});
export type UsageLogRow = z.infer<typeof UsageLogRow>;

export const ROW_SCHEMAS = {
  plans: PlanRow,
  tenants: TenantRow,
  users: UserRow,
  providers: ProviderRow,
  models: ModelRow,
  memberships: MembershipRow,
  api_keys: ApiKeyRow,
  usage_logs: UsageLogRow,
} as const;

export type CollectionName = keyof typeof ROW_SCHEMAS;
export type RowOf<C extends CollectionName> = z.infer<(typeof ROW_SCHEMAS)[C]>;

/** Rows owned by one tenant: reached only through `db.forTenant(tenantId)`. */
export const TENANT_COLLECTIONS = ["api_keys", "memberships", "usage_logs"] as const;
export type TenantCollectionName = (typeof TENANT_COLLECTIONS)[number];
/** Platform-wide rows: reached only through the explicitly named `db.operator`. */
export const OPERATOR_COLLECTIONS = ["plans", "tenants", "users", "providers", "models"] as const;
export type OperatorCollectionName = (typeof OPERATOR_COLLECTIONS)[number];

/** Write-side fields: everything but the autodates, all optional (PocketBase enforces `required`). */
export type CreateOf<C extends CollectionName> = Partial<Omit<RowOf<C>, "created" | "updated">> &
  (C extends "users" ? { password?: string; passwordConfirm?: string; email?: string } : unknown);
export type UpdateOf<C extends CollectionName> = Partial<Omit<RowOf<C>, "id" | "created" | "updated">> &
  (C extends "users" ? { password?: string; passwordConfirm?: string; oldPassword?: string } : unknown);
