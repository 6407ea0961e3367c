import {
  AppError,
  checkTierAccess,
  type Deployment,
  type KeyRecord,
  type KeyScope,
  type ModelCatalogEntry,
  tierDenialError,
} from "@cloudfreedom/shared";
import type { RouterDeps } from "../../deps.ts";
import { weightedOrder } from "../routing/plan.ts";

export type Capability = "chat" | "completions" | "embeddings";

export interface AdmittedModel {
  model: ModelCatalogEntry;
  /** Deployments whose provider is configured, in this request's weighted order. */
  deployments: Deployment[];
}

/** A key may act only within its scopes (403 naming the missing one). */
export function requireScope(key: KeyRecord, scope: KeyScope): void {
  if (!key.scopes.includes(scope)) {
    throw new AppError(
      "forbidden",
      `This API key lacks the "${scope}" scope; use a key created with "scopes" including "${scope}"`,
      { scope },
    );
  }
}

/**
 * May this key use this model for this operation? Scope, the key's model allowlist, the tier rule
 * (DESIGN.md §7), availability and capability; and which deployments can serve it. No provider is called
 * for any refusal.
 */
export function admitModel(
  deps: RouterDeps,
  key: KeyRecord,
  modelId: string,
  capability: Capability,
): AdmittedModel {
  requireScope(key, capability);
  const model = deps.catalog.model(modelId);
  if (!model?.is_available) {
    throw new AppError(
      "model_not_found",
      `The model "${modelId}" does not exist or is not available; GET /v1/models lists the models`,
      {
        model_id: modelId,
      },
    );
  }
  if (key.models && !key.models.includes(modelId)) {
    throw new AppError("forbidden", `This API key may not use "${modelId}" (the key has a model allowlist)`, {
      model_id: modelId,
    });
  }
  if (deps.env.ENABLE_TIER_ENFORCEMENT) {
    const decision = checkTierAccess(key.tier, model);
    if (!decision.allowed)
      throw tierDenialError(
        modelId,
        key.tier,
        decision,
        deps.env.UPGRADE_URL ?? `https://admin.${deps.env.PLATFORM_DOMAIN}/billing`,
      );
  }
  const wanted = capability === "completions" ? "chat" : capability;
  if (
    !model.capabilities.includes(wanted) &&
    !(capability === "completions" && model.capabilities.includes("completions"))
  ) {
    throw new AppError("invalid_request", `The model "${modelId}" does not support ${capability}`, {
      model_id: modelId,
    });
  }
  const deployments = deps.catalog.configuredDeployments(model);
  if (deployments.length === 0) {
    // Not a passing outage: the SDKs' retries of a 503 would only wait for the same answer.
    throw new AppError(
      "service_unavailable",
      `No provider is configured for "${modelId}"; the operator must configure ${model.deployments.map((d) => d.provider).join(" or ")} ` +
        "(GET /v1/models says which models have one: provider_configured)",
      { model_id: modelId },
      { "x-should-retry": "false" },
    );
  }
  return { model, deployments: weightedOrder(deployments) };
}
