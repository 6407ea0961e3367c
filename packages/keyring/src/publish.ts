import { type ApiKeyRow, createCollection, type Db, type TenantRow } from "@cloudfreedom/db";
import {
  AppError,
  INVALIDATE_CHANNEL,
  type Invalidation,
  KeyRecord,
  redisKeys,
  type Tier,
} from "@cloudfreedom/shared";
import type { Redis } from "ioredis";
import { withTenantKeyring } from "./lock.ts";
import { keyRecordOf, loadTenantContext, queueRecordWrite } from "./records.ts";
import { type KeyringLogger, type ResolvedTier, resolveTier } from "./tier.ts";

export interface KeyringDeps {
  db: Db;
  redis: Redis;
  logger?: KeyringLogger;
}

export function publishInvalidation(redis: Redis, message: Invalidation): Promise<number> {
  return redis.publish(INVALIDATE_CHANNEL, JSON.stringify(message));
}

/**
 * A pipeline's `exec` resolves even when its commands failed (a read-only replica after a failover, a full
 * Redis): the first failure is thrown, so nothing is taken as published that was not.
 */
function assertAllWritten(results: Array<[Error | null, unknown]> | null): void {
  const failed = results?.find(([error]) => error !== null)?.[0];
  if (failed) throw failed;
  if (results === null) throw new Error("Redis discarded the KeyRecord writes");
}

/**
 * A failed tier lookup is not a downgrade: nothing is published with the `free` it falls back to (a record
 * written so would keep it, without a TTL), and the caller answers 503 to be retried.
 */
function refuseFallback(resolved: ResolvedTier, tenantId: string): void {
  if (resolved.source === "fallback")
    throw new AppError(
      "service_unavailable",
      "Could not read the tenant's subscription and plan; its keys were left as they were. Retry shortly",
      { tenant_id: tenantId },
    );
}

async function publishableTier(deps: KeyringDeps, tenant: TenantRow): Promise<Tier> {
  const resolved = await resolveTier({ db: deps.db, tenantId: tenant.id, tenant, logger: deps.logger });
  refuseFallback(resolved, tenant.id);
  return resolved.tier;
}

async function tenantRow(db: Db, tenantId: string): Promise<TenantRow> {
  return db.operator.collection("tenants").getOne(tenantId);
}

/**
 * Writes one key's record, from its row and its tenant's as they are inside the tenant's keyring lock, to
 * Redis, and tells every router to drop its cached copy. Null when the row no longer exists.
 */
async function writeKeyRecord(deps: KeyringDeps, tenantId: string, keyId: string): Promise<KeyRecord | null> {
  return withTenantKeyring(deps.redis, tenantId, async () => {
    const key = await deps.db
      .forTenant(tenantId)
      .collection("api_keys")
      .getFirst({
        filter: "id = {:id}",
        params: { id: keyId },
      });
    if (!key) return null;
    const tenant = await tenantRow(deps.db, tenantId);
    const tier = await publishableTier(deps, tenant);
    const record = keyRecordOf(await loadTenantContext(deps.db, tenant, tier), key);
    const pipeline = deps.redis.pipeline();
    queueRecordWrite(pipeline, key.hash, record, Date.now());
    pipeline.publish(
      INVALIDATE_CHANNEL,
      JSON.stringify({ kind: "key", key_hash: key.hash } satisfies Invalidation),
    );
    assertAllWritten(await pipeline.exec());
    return record;
  });
}

/**
 * After a key was created, updated, rotated or revoked: its KeyRecord in Redis + `{kind:"key"}`. The record is
 * built from the row as read under the tenant's keyring lock, whatever row the caller holds.
 */
export async function publishKey(
  deps: KeyringDeps & { tenantId: string; keyId?: string; key?: ApiKeyRow },
): Promise<KeyRecord> {
  const keyId = deps.key?.id ?? deps.keyId ?? "";
  const record = await writeKeyRecord(deps, deps.tenantId, keyId);
  if (!record) throw new AppError("not_found", "API key not found", { key_id: keyId });
  return record;
}

export interface TenantPublication {
  tier: Tier;
  source: ResolvedTier["source"];
  /** The tier the tenant row held before, when it changed. */
  previousTier: Tier | null;
  keys: number;
}

/**
 * After a tier, plan or tenant status change (billing calls this on Stripe subscription changes): resolves the
 * tier, stores it on the tenant row (auditing a change), rewrites every key of the tenant and publishes
 * `{kind:"tenant"}` so routers evict them all.
 */
export async function publishTenantKeys(
  deps: KeyringDeps & {
    tenantId: string;
    /**
     * The tier the tenant had before the caller changed its row (billing writes plan and tier in one update,
     * then calls this): the change from it is audited. Default: the tier stored on the row now.
     */
    previousTier?: Tier;
  },
): Promise<TenantPublication> {
  return withTenantKeyring(deps.redis, deps.tenantId, () => publishTenantKeysLocked(deps));
}

async function publishTenantKeysLocked(
  deps: KeyringDeps & { tenantId: string; previousTier?: Tier },
): Promise<TenantPublication> {
  const tenant = await tenantRow(deps.db, deps.tenantId);
  const resolved = await resolveTier({ db: deps.db, tenantId: tenant.id, tenant, logger: deps.logger });
  refuseFallback(resolved, tenant.id);
  const context = await loadTenantContext(deps.db, tenant, resolved.tier);
  const keys = await deps.db.forTenant(tenant.id).collection("api_keys").listAll({});
  const now = Date.now();
  const pipeline = deps.redis.pipeline();
  for (const key of keys) queueRecordWrite(pipeline, key.hash, keyRecordOf(context, key), now);
  pipeline.publish(
    INVALIDATE_CHANNEL,
    JSON.stringify({ kind: "tenant", tenant_id: tenant.id } satisfies Invalidation),
  );
  assertAllWritten(await pipeline.exec());
  // The tier goes on the row after the records: a row whose tier differs from the resolved one says its
  // records may not carry it yet (a publication that failed half-way), and callers can publish again.
  if (resolved.tier !== tenant.tier)
    await deps.db.operator.collection("tenants").update(tenant.id, { tier: resolved.tier });
  let previousTier: Tier | null = null;
  const before = deps.previousTier ?? tenant.tier;
  if (resolved.tier !== before) {
    previousTier = before;
    await recordTierChange(deps, tenant.id, previousTier, resolved);
  }
  return { tier: resolved.tier, source: resolved.source, previousTier, keys: keys.length };
}

/**
 * Whether a tenant's KeyRecords may not carry the tier it resolves to now: its row's tier, stored after its
 * records, differs (a publication cut short). A failed lookup says nothing.
 */
export async function tenantKeysStale(
  deps: Pick<KeyringDeps, "db" | "logger">,
  tenantId: string,
): Promise<boolean> {
  const tenant = await tenantRow(deps.db, tenantId);
  const resolved = await resolveTier({ db: deps.db, tenantId, tenant, logger: deps.logger });
  return resolved.source !== "fallback" && resolved.tier !== tenant.tier;
}

async function recordTierChange(
  deps: KeyringDeps,
  tenantId: string,
  from: Tier,
  to: ResolvedTier,
): Promise<void> {
  try {
    await deps.db
      .forTenant(tenantId)
      .collection("audit_logs")
      .create({
        actor_type: "system",
        actor_id: "keyring",
        action: "tenant.tier_change",
        target_type: "tenant",
        target_id: tenantId,
        outcome: "success",
        metadata: { from, to: to.tier, source: to.source },
      });
  } catch (error) {
    deps.logger?.warn({ tenant: tenantId, err: error }, "could not audit a tier change");
  }
}

/** Removes a key's record (a deleted key row) and announces it. */
export async function removeKeyRecord(redis: Redis, keyHash: string): Promise<void> {
  await redis.del(redisKeys.keyRecord(keyHash));
  await publishInvalidation(redis, { kind: "key", key_hash: keyHash });
}

/**
 * The key row with this hash, whatever its tenant. Hash → key is the one look-up that must run before the tenant
 * is known (the unique `idx_api_keys_hash` index is its named exception), so it reads the collection unscoped.
 */
export async function findKeyByHash(db: Db, keyHash: string): Promise<ApiKeyRow | null> {
  if (!/^[0-9a-f]{64}$/.test(keyHash)) return null;
  return createCollection(db.client, "api_keys").getFirst({
    filter: "hash = {:hash}",
    params: { hash: keyHash },
  });
}

/**
 * Rebuilds a key's record from PocketBase by hash and writes it to Redis where none is (auth's internal resolve,
 * after Redis lost it). Nothing changed, so nothing is announced. It takes no lock, so resolves never queue
 * behind a tenant's republication: a record a locked writer stored meanwhile is newer and stays (`NX`), and one
 * it stores afterwards overwrites this.
 */
export async function reloadKeyByHash(deps: KeyringDeps & { keyHash: string }): Promise<KeyRecord | null> {
  const key = await findKeyByHash(deps.db, deps.keyHash);
  if (!key) return null;
  const tenant = await tenantRow(deps.db, key.tenant);
  const tier = await publishableTier(deps, tenant);
  const record = keyRecordOf(await loadTenantContext(deps.db, tenant, tier), key);
  const pipeline = deps.redis.pipeline();
  queueRecordWrite(pipeline, key.hash, record, Date.now(), { onlyIfMissing: true });
  pipeline.get(redisKeys.keyRecord(key.hash));
  const results = await pipeline.exec();
  // What Redis holds now: this record, or the newer one a locked writer stored first.
  const held = results?.[1]?.[1];
  if (typeof held === "string" && held !== JSON.stringify(record)) {
    try {
      const parsed = KeyRecord.safeParse(JSON.parse(held));
      if (parsed.success) return parsed.data;
    } catch {
      // Not a record (written by hand?): answer the one built from PocketBase.
    }
  }
  return record;
}
