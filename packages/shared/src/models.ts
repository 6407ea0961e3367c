import { z } from "zod";
import { NonNegativeMicros } from "./money.ts";
import { TierRule } from "./tiers.ts";

export const ProviderKind = z.enum(["openai", "anthropic", "gemini", "ollama", "azure", "openrouter"]);
export type ProviderKind = z.infer<typeof ProviderKind>;

/** Where each provider kind lives when a provider names no base URL (Azure always needs its own). */
export const DEFAULT_PROVIDER_BASE_URLS: Readonly<Record<ProviderKind, string | undefined>> = {
  openai: "https://api.openai.com/v1",
  anthropic: "https://api.anthropic.com",
  gemini: "https://generativelanguage.googleapis.com",
  ollama: "http://127.0.0.1:11434",
  openrouter: "https://openrouter.ai/api/v1",
  azure: undefined,
};

export const ModelId = z
  .string()
  .min(1)
  .max(200)
  .regex(/^[A-Za-z0-9][A-Za-z0-9._:/@-]*$/, { message: "must be a model id like gpt-4o" });

/** One place a public model can be served from: a provider, its upstream model name and a weight. */
export const Deployment = z.object({
  id: z.string().min(1),
  provider: z.string().min(1),
  upstream_model: z.string().min(1),
  weight: z.number().int().positive().default(1),
});
export type Deployment = z.infer<typeof Deployment>;

/**
 * Prices per million tokens, in micro-units of the platform currency. `cache_write_per_million` prices tokens
 * written to a 5-minute prompt cache; absent, they cost 1.25× the input price (Anthropic's premium). 1-hour
 * cache writes always cost 2× the input price.
 */
export const ModelPrices = z.object({
  input_per_million: NonNegativeMicros,
  cached_input_per_million: NonNegativeMicros,
  cache_write_per_million: NonNegativeMicros.optional(),
  output_per_million: NonNegativeMicros,
});
export type ModelPrices = z.infer<typeof ModelPrices>;

export const ModelCapability = z.enum([
  "chat",
  "completions",
  "embeddings",
  "vision",
  "tools",
  "json_schema",
  "reasoning",
]);

export const ModelCatalogEntry = z
  .object({
    model_id: ModelId,
    display_name: z.string().min(1),
    deployments: z.array(Deployment).min(1),
    prices: ModelPrices,
    is_available: z.boolean().default(true),
    context_window: z.number().int().positive(),
    max_output_tokens: z.number().int().positive(),
    capabilities: z.array(ModelCapability).default(["chat"]),
  })
  .extend(TierRule.shape);
export type ModelCatalogEntry = z.infer<typeof ModelCatalogEntry>;
