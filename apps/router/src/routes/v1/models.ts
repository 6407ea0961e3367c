import { AppError, checkTierAccess, type KeyRecord, type ModelCatalogEntry } from "@cloudfreedom/shared";
import type { Context, Hono } from "hono";
import type { RouterDeps } from "../../deps.ts";
import { requireScope } from "../../services/proxy/admission.ts";
import { authenticateKey } from "./key-auth.ts";

/**
 * With a key, what it may call: `access_status` is the tier's answer (DESIGN.md §7: `upgrade_required` means a
 * plan upgrade would open the model), `key_allowed` the key's own model allowlist, which no upgrade changes.
 * For everyone, `provider_configured`: whether a provider of one of its deployments is configured; a model
 * without one is listed (the catalog is the operator's) but answers 503 until the operator adds it.
 */
function modelObject(deps: RouterDeps, model: ModelCatalogEntry, key: KeyRecord | null) {
  const tierAllows =
    !deps.env.ENABLE_TIER_ENFORCEMENT || (key ? checkTierAccess(key.tier, model).allowed : true);
  return {
    id: model.model_id,
    object: "model" as const,
    created: deps.catalog.current.modelCreated.get(model.model_id) ?? 0,
    owned_by: model.deployments[0]?.provider ?? "cloudfreedom",
    name: model.display_name,
    display_name: model.display_name,
    context_window: model.context_window,
    max_output_tokens: model.max_output_tokens,
    capabilities: model.capabilities,
    required_tier: model.required_tier,
    tier_restriction_mode: model.tier_restriction_mode,
    allowed_tiers: model.allowed_tiers,
    provider_configured: deps.catalog.configuredDeployments(model).length > 0,
    ...(key
      ? {
          access_status: tierAllows ? "allowed" : "upgrade_required",
          key_allowed: !key.models || key.models.includes(model.model_id),
        }
      : {}),
  };
}

/**
 * The caller's key when one is sent (a bad one, one of another tenant, or one without the `models` scope is
 * refused); anonymous listing stays possible.
 */
async function optionalKey(c: Context, deps: RouterDeps): Promise<KeyRecord | null> {
  const authorization = c.req.header("authorization");
  if (!authorization) return null;
  const key = await authenticateKey(c, deps, authorization);
  requireScope(key, "models");
  return key;
}

export function registerModelRoutes(app: Hono, deps: RouterDeps): void {
  app.get("/v1/models", async (c) => {
    const key = await optionalKey(c, deps);
    const data = [...deps.catalog.current.models.values()]
      .filter((model) => model.is_available)
      .map((model) => modelObject(deps, model, key));
    // OpenAI's list (`object`, `data`) and the tier contract's (`models`, `total`, `user_tier`) in one body.
    return c.json({
      object: "list",
      data,
      models: data,
      total: data.length,
      ...(key ? { user_tier: key.tier } : {}),
    });
  });

  app.get("/v1/models/:id{.+}", async (c) => {
    const key = await optionalKey(c, deps);
    const id = c.req.param("id");
    const model = deps.catalog.model(id);
    if (!model?.is_available) {
      throw new AppError(
        "model_not_found",
        `The model "${id}" does not exist; GET /v1/models lists the models`,
        { model_id: id },
      );
    }
    return c.json(modelObject(deps, model, key));
  });
}
