import { withLock } from "@cloudfreedom/queue";
import { AppError, redisKeys } from "@cloudfreedom/shared";
import { metrics } from "@opentelemetry/api";
import type { Redis } from "ioredis";

/** A publication takes a few PocketBase round trips; a crashed holder's lock frees itself after this. */
const KEYRING_LOCK_MS = 15_000;
/** How long a publication waits for another one of the same tenant. */
const KEYRING_LOCK_WAIT_MS = 10_000;

const lostCounter = metrics.getMeter("@cloudfreedom/keyring").createCounter("cf_keyring_lock_lost_total", {
  description: "Publications of a tenant's KeyRecords that outlived the keyring lock's ttl",
});

/**
 * Every write of a tenant's KeyRecords, one at a time across services and replicas, each reading its rows
 * inside the lock. Without it a writer that read a key before a change (a tier refresh listing every key, a
 * reload after Redis lost the record) wrote that stale row over the newer record: a revoked key came back.
 */
export async function withTenantKeyring<T>(
  redis: Redis,
  tenantId: string,
  work: () => Promise<T>,
): Promise<T> {
  const locked = await withLock(redis, redisKeys.tenant(tenantId, "keyring-lock"), KEYRING_LOCK_MS, work, {
    waitMs: KEYRING_LOCK_WAIT_MS,
    pollMs: 20,
  });
  if (!locked.held)
    throw new AppError(
      "service_unavailable",
      "The tenant's keys are being republished by another request; retry",
      {
        tenant_id: tenantId,
      },
    );
  // Another writer may have run beside this one (each still wrote rows it read itself): the ttl is too short.
  if (locked.lost) lostCounter.add(1);
  return locked.value;
}
