import { withLock } from "@cloudfreedom/queue";
import { AppError } from "@cloudfreedom/shared";
import type { AuthDeps } from "../../deps.ts";

/**
 * A change of a key takes a few PocketBase round trips and may wait up to 10 s for its tenant's keyring lock
 * (packages/keyring); a crashed holder's lock frees itself after this.
 */
const KEY_LOCK_MS = 30_000;
/** How long a change waits for another change of the same key before it gives up (409). */
const KEY_LOCK_WAIT_MS = 5_000;

/**
 * Changes of one key (update, revoke, rotate) one at a time, across auth replicas, each reading the row
 * inside the lock. PocketBase writes a whole row on update, so a PATCH that read the key before a concurrent
 * revoke would write its `revoked_at` back empty, and publish its live KeyRecord after the revoked one.
 */
export async function withKeyLock<T>(
  deps: Pick<AuthDeps, "redis">,
  keyId: string,
  work: () => Promise<T>,
): Promise<T> {
  const locked = await withLock(deps.redis, `cf:auth:key-lock:${keyId}`, KEY_LOCK_MS, work, {
    waitMs: KEY_LOCK_WAIT_MS,
    pollMs: 20,
  });
  if (!locked.held)
    throw new AppError("conflict", "This key is being changed by another request; retry", { key_id: keyId });
  return locked.value;
}
