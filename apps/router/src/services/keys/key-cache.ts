import type { KeyRecord } from "@cloudfreedom/shared";

interface Entry {
  record: KeyRecord;
  expiresAt: number;
}

/**
 * In-process LRU of KeyRecords by key hash, with a short TTL: a hit costs a Map lookup and no I/O.
 * Map iteration order is insertion order, so re-inserting on a hit makes the first key the least recent.
 */
export class KeyCache {
  private readonly entries = new Map<string, Entry>();
  /**
   * Counts invalidations. A record read from Redis is cached only if none arrived while it was read
   * (`set(…, generation)`): otherwise the copy read just before a revocation's message would be cached after
   * the eviction and served for the whole TTL.
   */
  generation = 0;

  constructor(
    private readonly maxEntries: number,
    private readonly ttlMs: number,
  ) {}

  get(hash: string, now = Date.now()): KeyRecord | undefined {
    const entry = this.entries.get(hash);
    if (!entry) return undefined;
    if (entry.expiresAt <= now) {
      this.entries.delete(hash);
      return undefined;
    }
    this.entries.delete(hash);
    this.entries.set(hash, entry);
    return entry.record;
  }

  /** Caches a record; with `readAt` (the generation when it was read), only if nothing was invalidated since. */
  set(hash: string, record: KeyRecord, now = Date.now(), readAt = this.generation): void {
    if (readAt !== this.generation) return;
    this.entries.delete(hash);
    this.entries.set(hash, { record, expiresAt: now + this.ttlMs });
    if (this.entries.size > this.maxEntries) {
      const oldest = this.entries.keys().next();
      if (!oldest.done) this.entries.delete(oldest.value);
    }
  }

  evict(hash: string): void {
    this.generation += 1;
    this.entries.delete(hash);
  }

  evictTenant(tenantId: string): void {
    this.generation += 1;
    for (const [hash, entry] of this.entries)
      if (entry.record.tenant_id === tenantId) this.entries.delete(hash);
  }

  clear(): void {
    this.generation += 1;
    this.entries.clear();
  }

  get size(): number {
    return this.entries.size;
  }
}
