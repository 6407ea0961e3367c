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
  /** The metered price checkout adds for overage; "" = none. */
  stripe_overage_price_id: z.string().default(""),
  features: z.array(z.string()).nullable(),
  is_active: z.boolean(),
  /** Days a past-due subscription keeps its tier; 0 = the billing service's default. */
  grace_days: Count.default(0),
  /** Plan slug a tenant falls back to when the grace period ends; "" = the free plan. */
  downgrade_to: z.string().default(""),
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
  /** Hidden: OAuth2 linked the account while its e-mail was unverified; auth still has to reclaim it. */
  reclaim_pending: z.boolean().optional(),
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
  /** The user who made the key (create or rotate); empty for keys made before it was recorded. */
  created_by: z.string().default(""),
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
  /** 0 (empty) = none: a 5-minute cache write is then priced at 1.25× the input price. */
  cache_write_price_micros: Count.default(0),
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
  cache_write_tokens: Count.default(0),
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

export const SubscriptionRow = BaseRow.extend({
  tenant: Relation,
  plan: Relation,
  stripe_subscription_id: z.string(),
  stripe_customer_id: z.string(),
  stripe_price_id: z.string(),
  status: z.enum([
    "incomplete",
    "incomplete_expired",
    "trialing",
    "active",
    "past_due",
    "canceled",
    "unpaid",
    "paused",
  ]),
  tier: Tier,
  current_period_start: PbDate,
  current_period_end: PbDate,
  cancel_at_period_end: z.boolean(),
  canceled_at: PbDate,
  grace_until: PbDate,
  /** `created` (epoch s) of the newest Stripe event applied; older events are ignored. */
  last_event_at: Count.default(0),
  /** `created` (epoch s) of the newest invoice event applied; older invoice events are ignored. */
  last_invoice_at: Count.default(0),
  /** Stripe's `billing_cycle_anchor` (epoch s; 0 unknown): its UTC day is the periods' anchor day. */
  billing_cycle_anchor: Count.default(0),
});
export type SubscriptionRow = z.infer<typeof SubscriptionRow>;

export const BudgetRow = BaseRow.extend({
  tenant: Relation,
  scope_type: z.enum(["tenant", "user", "key"]),
  scope_id: z.string(),
  /** `YYYY-MM` for a period's snapshot; `default` for the standing limit that applies to every period. */
  period: z.string(),
  limit_micros: Count,
  spent_micros: Count,
  query_count: Count,
  closed_at: PbDate,
  metered_units: Count.default(0),
  meter_batches: Count.default(0),
  meter_pending_units: Count.default(0),
  /** The period's included budget as meter sync bills it: the largest plan budget seen in the period. */
  meter_included_micros: Count.default(0),
  /** An operator set this standing limit (a contract): kept when the tenant's plan changes. */
  set_by_operator: z.boolean().default(false),
});
export type BudgetRow = z.infer<typeof BudgetRow>;

export const StripeEventRow = BaseRow.extend({
  event_id: z.string(),
  type: z.string(),
  processed_at: PbDate,
});
export type StripeEventRow = z.infer<typeof StripeEventRow>;

/** View `usage_period_totals`: usage_logs summed per (tenant, period, key, user). Read-only. */
export const UsagePeriodTotalRow = z.object({
  id: z.string(),
  tenant: Relation,
  period: z.string(),
  api_key: Relation,
  user: Relation,
  billed_micros: z.number().int(),
  cost_micros: z.number().int(),
  requests: z.number().int(),
  queries: z.number().int(),
});
export type UsagePeriodTotalRow = z.infer<typeof UsagePeriodTotalRow>;

/** View `usage_daily_totals`: usage_logs summed per (tenant, period, UTC day, model, key). Read-only. */
export const UsageDailyTotalRow = z.object({
  id: z.string(),
  tenant: Relation,
  period: z.string(),
  day: z.string(),
  model: z.string(),
  api_key: Relation,
  requests: z.number().int(),
  failed_requests: z.number().int(),
  input_tokens: z.number().int(),
  cached_input_tokens: z.number().int(),
  cache_write_tokens: z.number().int().default(0),
  output_tokens: z.number().int(),
  cost_micros: z.number().int(),
  billed_micros: z.number().int(),
});
export type UsageDailyTotalRow = z.infer<typeof UsageDailyTotalRow>;

export const AuditLogRow = BaseRow.extend({
  /** "" for events of no tenant (a failed login for an unknown email). */
  tenant: Relation,
  actor_type: z.enum(["user", "api_key", "operator", "system", "anonymous"]),
  actor_id: z.string(),
  actor_label: z.string(),
  action: z.string(),
  target_type: z.string(),
  target_id: z.string(),
  outcome: z.enum(["success", "failure"]),
  ip: z.string(),
  user_agent: z.string(),
  metadata: z.record(z.string(), z.unknown()).nullable(),
});
export type AuditLogRow = z.infer<typeof AuditLogRow>;

export const SigningKeyRow = BaseRow.extend({
  kid: z.string(),
  alg: z.enum(["ES256", "EdDSA"]),
  public_jwk: z.record(z.string(), z.unknown()).nullable(),
  private_jwk_encrypted: z.string(),
  activated_at: PbDate,
  retired_at: PbDate,
  verify_until: PbDate,
});
export type SigningKeyRow = z.infer<typeof SigningKeyRow>;

export const RefreshTokenRow = BaseRow.extend({
  tenant: Relation,
  user: Relation,
  family: z.string(),
  hash: z.string(),
  expires_at: PbDate,
  used_at: PbDate,
  revoked_at: PbDate,
  replaced_by: z.string(),
  ip: z.string(),
  user_agent: z.string(),
});
export type RefreshTokenRow = z.infer<typeof RefreshTokenRow>;

export const InvitationRow = BaseRow.extend({
  tenant: Relation,
  email: z.string(),
  role: z.enum(["owner", "admin", "member"]),
  token_hash: z.string(),
  invited_by: Relation,
  expires_at: PbDate,
  accepted_at: PbDate,
  accepted_by: Relation,
  revoked_at: PbDate,
});
export type InvitationRow = z.infer<typeof InvitationRow>;

export const ROW_SCHEMAS = {
  plans: PlanRow,
  tenants: TenantRow,
  users: UserRow,
  providers: ProviderRow,
  models: ModelRow,
  memberships: MembershipRow,
  api_keys: ApiKeyRow,
  usage_logs: UsageLogRow,
  subscriptions: SubscriptionRow,
  audit_logs: AuditLogRow,
  signing_keys: SigningKeyRow,
  refresh_tokens: RefreshTokenRow,
  invitations: InvitationRow,
  budgets: BudgetRow,
  stripe_events: StripeEventRow,
  usage_period_totals: UsagePeriodTotalRow,
  usage_daily_totals: UsageDailyTotalRow,
} as const;

export type CollectionName = keyof typeof ROW_SCHEMAS;
export type RowOf<C extends CollectionName> = z.infer<(typeof ROW_SCHEMAS)[C]>;

/** Rows owned by one tenant: reached only through `db.forTenant(tenantId)`. */
export const TENANT_COLLECTIONS = [
  "api_keys",
  "memberships",
  "usage_logs",
  "subscriptions",
  // Also an operator collection: a failed login for an unknown email belongs to no tenant.
  "audit_logs",
  "refresh_tokens",
  "invitations",
  "budgets",
  // Views over usage_logs (read-only): every row carries its tenant.
  "usage_period_totals",
  "usage_daily_totals",
] as const;
export type TenantCollectionName = (typeof TENANT_COLLECTIONS)[number];
/** Platform-wide rows: reached only through the explicitly named `db.operator`. */
export const OPERATOR_COLLECTIONS = [
  "plans",
  "tenants",
  "users",
  "providers",
  "models",
  "signing_keys",
  "audit_logs",
  "stripe_events",
  // Operator jobs (period rollover) read every tenant's totals of a period.
  "usage_period_totals",
] as const;
export type OperatorCollectionName = (typeof OPERATOR_COLLECTIONS)[number];

/** Write-side fields: everything but the autodates, all optional (PocketBase enforces `required`). */
export type CreateOf<C extends CollectionName> = Partial<Omit<RowOf<C>, "created" | "updated">> &
  (C extends "users" ? { password?: string; passwordConfirm?: string; email?: string } : unknown);
export type UpdateOf<C extends CollectionName> = Partial<Omit<RowOf<C>, "id" | "created" | "updated">> &
  (C extends "users" ? { password?: string; passwordConfirm?: string; oldPassword?: string } : unknown);
