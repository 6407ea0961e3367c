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

  set(hash: string, record: KeyRecord, now = Date.now()): void {
    this.entries.delete(hash);
    this.entries.set(hash, { record, expiresAt: now + this.ttlMs });
    if (this.entries.size > this.maxEntries) {
      const oldest = this.entries.keys().next();
      if (!oldest.done) this.entries.delete(oldest.value);
    }
  }

  evict(hash: string): void {
    this.entries.delete(hash);
  }

  evictTenant(tenantId: string): void {
    for (const [hash, entry] of this.entries)
      if (entry.record.tenant_id === tenantId) this.entries.delete(hash);
  }

  clear(): void {
    this.entries.clear();
  }

  get size(): number {
    return this.entries.size;
  }
}
