import { PlanSlug } from "@cloudfreedom/shared";
import { z } from "zod";

const WebUrl = z.url({ protocol: /^https?$/, message: "must be an http(s) URL" });

export const CheckoutBody = z.object({
  tenant_id: z.string().min(1).optional(),
  plan: PlanSlug,
  success_url: WebUrl.optional(),
  cancel_url: WebUrl.optional(),
});

export const PortalBody = z.object({
  tenant_id: z.string().min(1).optional(),
  return_url: WebUrl.optional(),
});
