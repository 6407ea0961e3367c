import { KeyScope } from "@cloudfreedom/shared";
import { z } from "zod";

export const KeyView = z.object({
  id: z.string(),
  name: z.string(),
  prefix: z.string().describe("first characters of the secret, to recognise it"),
  user_id: z.string().nullable(),
  scopes: z.array(KeyScope).nullable(),
  models: z.array(z.string()).nullable(),
  rpm: z.number().nullable(),
  tpm: z.number().nullable(),
  budget_micros: z.number().nullable(),
  expires_at: z.string().nullable(),
  grace_until: z.string().nullable(),
  revoked_at: z.string().nullable(),
  last_used_at: z.string().nullable(),
  rotated_from: z.string().nullable(),
  status: z.enum(["active", "grace", "expired", "revoked"]),
  created: z.string(),
  updated: z.string(),
});
export const KeyWithSecret = z.object({
  key: KeyView,
  secret: z.string().describe("shown once: cf_live_<32 base62>"),
});
export const RotatedKey = KeyWithSecret.extend({ previous: KeyView });
