import { z } from "zod";
import { Email, Password } from "../common.ts";

export const SignUpBody = z.object({
  email: Email,
  password: Password,
  name: z.string().trim().max(255).optional(),
  /** Name and subdomain of the personal tenant; the slug is derived from the e-mail when omitted. */
  tenant_name: z.string().trim().min(1).max(255).optional(),
  tenant_slug: z.string().min(1).max(63).optional(),
  /** Join the inviting tenant instead of getting a personal one. */
  invitation_token: z.string().min(1).max(128).optional(),
});

export const LogInBody = z.object({
  email: Email,
  password: z.string().min(1).max(72),
  /** Tenant id or slug to log into; default: the user's default tenant. */
  tenant: z.string().min(1).max(64).optional(),
});

export const RefreshBody = z.object({ refresh_token: z.string().min(1).max(128) });

export const ChangePasswordBody = z.object({
  current_password: z.string().min(1).max(72),
  new_password: Password,
});

export const SwitchTenantBody = z.object({ tenant: z.string().min(1).max(64) });

export const OAuth2Body = z.object({
  provider: z.string().min(1).max(64),
  code: z.string().min(1).max(4096),
  code_verifier: z.string().min(1).max(256),
  redirect_url: z.url(),
  tenant: z.string().min(1).max(64).optional(),
});

export const OAuth2Providers = z.object({
  enabled: z.boolean(),
  providers: z.array(
    z.object({
      name: z.string(),
      display_name: z.string(),
      auth_url: z.string(),
      state: z.string(),
      code_verifier: z.string(),
      code_challenge: z.string(),
      code_challenge_method: z.string(),
    }),
  ),
});
