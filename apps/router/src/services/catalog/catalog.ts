import { type Db, modelFromRow, pbDateToMs } from "@cloudfreedom/db";
import type { Logger } from "@cloudfreedom/service-kit";
import type { Deployment, ModelCatalogEntry } from "@cloudfreedom/shared";
import type { RouterEnv } from "../../env.ts";
import type { ProviderTarget } from "../../providers/types.ts";
import { providerFromRow, providersFromEnv } from "./providers.ts";

export interface CatalogSnapshot {
  models: Map<string, ModelCatalogEntry>;
  /** When each model's row was created (epoch seconds): stable across reloads, unlike `loadedAt`. */
  modelCreated: Map<string, number>;
  providers: Map<string, ProviderTarget>;
  loadedAt: number;
}

/**
 * The model catalog and provider targets in memory (DESIGN.md §5 step 2): loaded from PocketBase at boot,
 * refreshed periodically and on `cf:invalidate` `catalog`. Requests read the current snapshot only, so a
 * refresh never blocks one; a failed refresh keeps the last good snapshot.
 */
export class Catalog {
  private snapshot: CatalogSnapshot = {
    models: new Map(),
    modelCreated: new Map(),
    providers: new Map(),
    loadedAt: 0,
  };
  /** Why each stored provider was last skipped, so a reload logs a change, not the same reason again. */
  private unusable = new Map<string, string>();
  private refreshing: Promise<void> | undefined;
  private timer: ReturnType<typeof setInterval> | undefined;

  constructor(private readonly deps: { db: Db; env: RouterEnv; logger: Logger }) {}

  get current(): CatalogSnapshot {
    return this.snapshot;
  }

  model(id: string): ModelCatalogEntry | undefined {
    return this.snapshot.models.get(id);
  }

  provider(name: string): ProviderTarget | undefined {
    return this.snapshot.providers.get(name);
  }

  /** The model's deployments whose provider is configured: the ones a call can be routed to. */
  configuredDeployments(model: ModelCatalogEntry): Deployment[] {
    return model.deployments.filter((d) => this.snapshot.providers.has(d.provider));
  }

  private again = false;

  /**
   * Single-flight: concurrent callers share one reload. A refresh asked for while one runs (an invalidation
   * that may postdate the rows already read) runs once more right after it.
   */
  refresh(): Promise<void> {
    if (this.refreshing) {
      this.again = true;
      return this.refreshing;
    }
    this.refreshing = (async () => {
      do {
        this.again = false;
        await this.load();
      } while (this.again);
    })().finally(() => {
      this.refreshing = undefined;
    });
    return this.refreshing;
  }

  /** Boot: keep trying until the catalog loaded once (PocketBase may still be starting). */
  async loadInitial(retryMs = 1_000, attempts = 30): Promise<void> {
    for (let attempt = 1; attempt <= attempts && this.snapshot.loadedAt === 0; attempt++) {
      await this.refresh();
      if (this.snapshot.loadedAt === 0) await new Promise((resolve) => setTimeout(resolve, retryMs));
    }
  }

  get loaded(): boolean {
    return this.snapshot.loadedAt > 0;
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
      const modelCreated = new Map<string, number>();
      for (const row of modelRows) {
        try {
          models.set(row.model_id, modelFromRow(row));
          modelCreated.set(row.model_id, Math.floor((pbDateToMs(row.created) ?? 0) / 1000));
        } catch (error) {
          logger.warn({ model: row.model_id, err: error }, "skipping a model row that does not parse");
        }
      }
      const providers = new Map<string, ProviderTarget>(providersFromEnv(env).map((t) => [t.name, t]));
      const unusable = new Map<string, string>();
      for (const row of providerRows) {
        const result = await providerFromRow(row, env.MASTER_KEY);
        if ("target" in result) {
          providers.set(row.name, result.target);
          continue;
        }
        unusable.set(row.name, result.skipped);
        if (this.unusable.get(row.name) !== result.skipped) {
          logger.warn({ provider: row.name, reason: result.skipped }, "provider not usable");
        }
      }
      this.unusable = unusable;
      this.snapshot = { models, modelCreated, providers, loadedAt: Date.now() };
      logger.info({ models: models.size, providers: [...providers.keys()] }, "catalog loaded");
    } catch (error) {
      logger.warn({ err: error }, "catalog refresh failed; keeping the previous catalog");
    }
  }
}
