import { type Db, modelFromRow } from "@cloudfreedom/db";
import { AppError, type ModelCatalogEntry } from "@cloudfreedom/shared";

/** Models and prices from PocketBase, cached for a short while (budget checks price every request). */
export interface ModelCatalog {
  /** The model, or `model_not_found` naming it. */
  require(modelId: string): Promise<ModelCatalogEntry>;
}

export function createModelCatalog(db: Db, ttlMs = 30_000): ModelCatalog {
  let loaded: { at: number; models: Map<string, ModelCatalogEntry> } | null = null;
  let pending: Promise<Map<string, ModelCatalogEntry>> | null = null;

  async function load(): Promise<Map<string, ModelCatalogEntry>> {
    if (loaded && Date.now() - loaded.at < ttlMs) return loaded.models;
    pending ??= db.operator
      .collection("models")
      .listAll()
      .then((rows) => {
        const models = new Map(rows.map((row) => [row.model_id, modelFromRow(row)] as const));
        loaded = { at: Date.now(), models };
        return models;
      })
      .finally(() => {
        pending = null;
      });
    return pending;
  }

  return {
    async require(modelId) {
      const model = (await load()).get(modelId);
      if (!model?.is_available) {
        throw new AppError(
          "model_not_found",
          `The model "${modelId}" does not exist or is not available; the router's GET /v1/models lists the models`,
          {
            field: "model",
            model_id: modelId,
          },
        );
      }
      return model;
    },
  };
}
