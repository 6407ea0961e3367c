import { KeyScope, LimitMicros, ModelId } from "@cloudfreedom/shared";
import { z } from "zod";

// Rows store "no limit" as 0, so 0 is refused rather than read as unlimited; null removes a limit.
const Limit = z
  .number()
  .int()
  .min(1, { message: "must be at least 1: 0 would read as no limit (send null for no limit)" })
  .nullable()
  .optional();
const Future = z.iso
  .datetime({ offset: true, message: "must be an ISO 8601 date-time" })
  .refine((value) => Date.parse(value) > Date.now(), { message: "must be in the future" });

export const KeySettings = z.object({
  name: z.string().trim().min(1).max(255),
  scopes: z.array(KeyScope).min(1).max(KeyScope.options.length).optional(),
  /** Model allowlist; null or omitted = every model the tier allows. */
  models: z.array(ModelId).max(500).nullable().optional(),
  rpm: Limit,
  tpm: Limit,
  budget_micros: LimitMicros.nullable().optional(),
  expires_at: Future.nullable().optional(),
});

export const CreateKeyBody = KeySettings.extend({
  /** Owners and admins: a member's id, or null for a tenant key owned by no user. Default: the caller. */
  user_id: z.string().min(3).max(64).nullable().optional(),
});
export type CreateKeyBody = z.infer<typeof CreateKeyBody>;

export const UpdateKeyBody = KeySettings.partial().refine((body) => Object.keys(body).length > 0, {
  message: "send at least one field to change",
});
export type UpdateKeyBody = z.infer<typeof UpdateKeyBody>;

/** Days are enough for any planned rollout; a longer overlap is a second key. */
export const MAX_GRACE_S = 30 * 24 * 3600;
export const RotateKeyBody = z.object({
  /** How long the old secret keeps working, in seconds (0 = it dies now). Default one hour. */
  grace_period_s: z.number().int().min(0).max(MAX_GRACE_S).default(3600),
});
export type RotateKeyBody = z.infer<typeof RotateKeyBody>;

export const ListKeysQuery = z.object({
  page: z.coerce.number().int().min(1).default(1),
  per_page: z.coerce.number().int().min(1).max(200).default(50),
  user_id: z.string().min(3).max(64).optional(),
  include_revoked: z
    .enum(["true", "false"])
    .default("false")
    .transform((v) => v === "true"),
});
export type ListKeysQuery = z.infer<typeof ListKeysQuery>;
