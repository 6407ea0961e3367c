import { type Db, modelFromRow } from "@cloudfreedom/db";
import type { ModelCatalogEntry } from "@cloudfreedom/shared";
import type { Logger } from "@cloudfreedom/service-kit";
import type { RouterEnv } from "../../env.ts";
import type { ProviderTarget } from "../../providers/types.ts";
import { providerFromRow, providersFromEnv } from "./providers.ts";

export interface CatalogSnapshot {
  models: Map<string, ModelCatalogEntry>;
  providers: Map<string, ProviderTarget>;
  loadedAt: number;
}

/**
 * The model catalog and provider targets in memory (DESIGN.md §5 step 2): loaded from PocketBase at boot,
 * refreshed periodically and on `cf:invalidate` `catalog`. Requests read the current snapshot only, so a
 * refresh never blocks one; a failed refresh keeps the last good snapshot.
 */
export class Catalog {
  private snapshot: CatalogSnapshot = { models: new Map(), providers: new Map(), loadedAt: 0 };
  private refreshing: Promise<void> | undefined;
  private timer: ReturnType<typeof setInterval> | undefined;

  constructor(
    private readonly deps: { db: Db; env: RouterEnv; logger: Logger },
  ) {}

  get current(): CatalogSnapshot {
    return this.snapshot;
  }

  model(id: string): ModelCatalogEntry | undefined {
    return this.snapshot.models.get(id);
  }

  provider(name: string): ProviderTarget | undefined {
    return this.snapshot.providers.get(name);
  }

  /** Single-flight: concurrent callers share one reload. */
  refresh(): Promise<void> {
    this.refreshing ??= this.load().finally(() => {
      this.refreshing = undefined;
    });
    return this.refreshing;
  }

  start(): void {
    this.timer = setInterval(() => void this.refresh(), this.deps.env.CATALOG_REFRESH_MS);
    this.timer.unref?.();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
  }

  private async load(): Promise<void> {
    const { db, env, logger } = this.deps;
    try {
      const [modelRows, providerRows] = await Promise.all([
        db.operator.collection("models").listAll({}),
        db.operator.collection("providers").listAll({}),
      ]);
      const models = new Map<string, ModelCatalogEntry>();
      for (const row of modelRows) {
        try {
          models.set(row.model_id, modelFromRow(row));
        } catch (error) {
          logger.warn({ model: row.model_id, err: error }, "skipping a model row that does not parse");
        }
      }
      const providers = new Map<string, ProviderTarget>(providersFromEnv(env).map((t) => [t.name, t]));
      for (const row of providerRows) {
        const result = await providerFromRow(row, env.MASTER_KEY);
        if ("target" in result) providers.set(row.name, result.target);
        else logger.warn({ provider: row.name, reason: result.skipped }, "provider not usable");
      }
      this.snapshot = { models, providers, loadedAt: Date.now() };
      logger.info({ models: models.size, providers: [...providers.keys()] }, "catalog loaded");
    } catch (error) {
      logger.warn({ err: error }, "catalog refresh failed; keeping the previous catalog");
    }
  }
}
