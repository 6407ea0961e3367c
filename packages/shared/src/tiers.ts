import { z } from "zod";
import { AppError } from "./errors.ts";

/** Tiers are ordered (DESIGN.md §7). The seeds' plan names map onto them: Hobby → free, Professional → pro. */
export const TIERS = ["free", "starter", "pro", "team", "enterprise"] as const;
export const Tier = z.enum(TIERS);
export type Tier = z.infer<typeof Tier>;

export const TierRestrictionMode = z.enum(["minimum", "exact", "whitelist"]);
export type TierRestrictionMode = z.infer<typeof TierRestrictionMode>;

/** How a tier is named to people: "Pro", "Enterprise". */
export function tierLabel(tier: Tier): string {
  return tier.charAt(0).toUpperCase() + tier.slice(1);
}

export function tierRank(tier: Tier): number {
  return TIERS.indexOf(tier);
}

export function compareTiers(a: Tier, b: Tier): number {
  return tierRank(a) - tierRank(b);
}

/** What a model asks of a caller's tier. Defaults keep models without tier fields open to everyone. */
export const TierRule = z.object({
  required_tier: Tier.default("free"),
  tier_restriction_mode: TierRestrictionMode.default("minimum"),
  allowed_tiers: z.array(Tier).default([]),
});
export type TierRule = z.infer<typeof TierRule>;

export type TierDecision = { allowed: true } | { allowed: false; required_tier: Tier; reason: string };

/**
 * The tier access rule: `minimum` allows tier ≥ required, `exact` only tier = required,
 * `whitelist` only tiers listed in `allowed_tiers` (an empty whitelist admits nobody).
 */
export function checkTierAccess(tier: Tier, rule: TierRule): TierDecision {
  switch (rule.tier_restriction_mode) {
    case "minimum":
      return compareTiers(tier, rule.required_tier) >= 0
        ? { allowed: true }
        : {
            allowed: false,
            required_tier: rule.required_tier,
            reason: `Requires ${tierLabel(rule.required_tier)} tier or higher`,
          };
    case "exact":
      return tier === rule.required_tier
        ? { allowed: true }
        : {
            allowed: false,
            required_tier: rule.required_tier,
            reason: `Requires exactly ${tierLabel(rule.required_tier)} tier`,
          };
    case "whitelist": {
      if (rule.allowed_tiers.includes(tier)) return { allowed: true };
      // Name the lowest tier that would be admitted, so the upgrade hint is actionable.
      const lowest = [...rule.allowed_tiers].sort(compareTiers)[0] ?? rule.required_tier;
      return {
        allowed: false,
        required_tier: lowest,
        reason: `Available to ${rule.allowed_tiers.map(tierLabel).join(", ") || "no"} tier(s) only`,
      };
    }
  }
}

/**
 * The 403 a tier denial answers, the same from the router and from billing's budget check (the message is the
 * one the tier access guide fixes: "Model access restricted: Requires Pro tier or higher").
 */
export function tierDenialError(
  modelId: string,
  tier: Tier,
  decision: Extract<TierDecision, { allowed: false }>,
  upgradeUrl: string,
): AppError {
  return new AppError("model_access_restricted", `Model access restricted: ${decision.reason}`, {
    model_id: modelId,
    user_tier: tier,
    required_tier: decision.required_tier,
    upgrade_url: upgradeUrl,
  });
}
