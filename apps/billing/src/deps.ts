import type { Admission } from "@cloudfreedom/admission";
import type { Db } from "@cloudfreedom/db";
import type { Producer } from "@cloudfreedom/queue";
import type { Logger } from "@cloudfreedom/service-kit";
import type { Tier } from "@cloudfreedom/shared";
import type { Redis } from "ioredis";
import type Stripe from "stripe";
import type { BillingEnv } from "./env.ts";
import type { ModelCatalog } from "./services/catalog/model-catalog.ts";
import type { TenantPeriods } from "./services/periods/tenant-periods.ts";

/** Refreshes a tenant's KeyRecords in Redis (packages/keyring) after its plan, tier or budgets changed. */
/** Rewrites a tenant's KeyRecords; `previousTier`: the tier before the caller changed the row (audited). */
export type RefreshTenantKeys = (tenantId: string, previousTier?: Tier) => Promise<void>;

/** Everything the billing routes and services need, built once per process (app.ts) and passed down. */
export interface BillingDeps {
  env: BillingEnv;
  logger: Logger;
  db: Db;
  /** Request-path Redis: KeyRecords, admission counters, idempotency keys. */
  redis: Redis;
  admission: Admission;
  usageQueue: Producer<"usage">;
  catalog: ModelCatalog;
  periods: TenantPeriods;
  /** Null when STRIPE_SECRET_KEY is not set. */
  stripe: Stripe | null;
  refreshTenantKeys: RefreshTenantKeys;
}
