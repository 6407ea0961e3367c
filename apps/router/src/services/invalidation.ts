import type { Logger } from "@cloudfreedom/service-kit";
import { INVALIDATE_CHANNEL, Invalidation } from "@cloudfreedom/shared";
import type { Redis } from "ioredis";
import type { Catalog } from "./catalog/catalog.ts";
import type { KeyCache } from "./keys/key-cache.ts";

/**
 * One subscriber connection per router process on `cf:invalidate`: evict a key, a tenant's keys, or reload
 * the catalog. A message that does not parse is logged and ignored.
 */
export async function subscribeInvalidations(deps: {
  subscriber: Redis;
  cache: KeyCache;
  catalog: Catalog;
  logger: Logger;
}): Promise<void> {
  deps.subscriber.on("message", (_channel: string, message: string) => {
    let parsed: ReturnType<typeof Invalidation.safeParse> | undefined;
    try {
      parsed = Invalidation.safeParse(JSON.parse(message));
    } catch {
      parsed = undefined;
    }
    if (!parsed?.success) {
      deps.logger.warn({ message: message.slice(0, 200) }, "ignoring a malformed invalidation");
      return;
    }
    const event = parsed.data;
    if (event.kind === "key") deps.cache.evict(event.key_hash);
    else if (event.kind === "tenant") deps.cache.evictTenant(event.tenant_id);
    else if (event.kind === "catalog") void deps.catalog.refresh();
  });
  // After a reconnect the subscription is restored by ioredis; what was missed meanwhile may be stale.
  deps.subscriber.on("ready", () => deps.cache.clear());
  await deps.subscriber.subscribe(INVALIDATE_CHANNEL);
}
