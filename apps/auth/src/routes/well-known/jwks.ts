import { z } from "zod";
import { defineRoute } from "../../openapi/route.ts";

const Jwks = z.object({ keys: z.array(z.record(z.string(), z.unknown())) });

export const jwksRoute = defineRoute({
  method: "get",
  path: "/.well-known/jwks.json",
  tag: "tokens",
  access: "public",
  summary: "Public keys that verify access tokens (current and recently rotated)",
  responses: { 200: { description: "JWK Set", schema: Jwks } },
  handle: (c, deps) => {
    c.header("cache-control", "public, max-age=60");
    return c.json(deps.signing.jwks());
  },
});
