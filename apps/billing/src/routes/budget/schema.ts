import { LimitMicros, ModelId } from "@cloudfreedom/shared";
import { z } from "zod";

const Tokens = z.coerce.number().int().nonnegative().max(10_000_000);

export const BudgetCheckBody = z.object({
  model: ModelId,
  /** Estimated prompt tokens. */
  input_tokens: Tokens,
  max_output_tokens: Tokens.positive().optional(),
  /**
   * The request sets prompt-cache breakpoints (Anthropic `cache_control`): its prompt may be billed as cache
   * writes, so it is priced at the 5-minute write rate, or the 1-hour one, as the router holds it.
   */
  cache_write: z.enum(["5m", "1h"]).optional(),
  reserve: z.boolean().default(false),
});

export const BudgetQuery = z.object({
  tenant_id: z.string().min(1).optional(),
  key_id: z.string().min(1).optional(),
  user_id: z.string().min(1).optional(),
});

export const SetBudgetBody = z.object({
  tenant_id: z.string().min(1).optional(),
  scope_type: z.enum(["tenant", "user", "key"]),
  scope_id: z.string().min(1).optional(),
  /** Per period, micro-units; null removes the limit (to stop a key at once, revoke it). */
  limit_micros: LimitMicros.nullable(),
});
