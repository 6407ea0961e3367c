import { reloadKeyByHash } from "@cloudfreedom/keyring";
import { readJson } from "@cloudfreedom/service-kit";
import { AppError, KEY_RESOLVE_PATH, KeyRecord, KeyResolveRequest } from "@cloudfreedom/shared";
import { z } from "zod";
import { defineRoute } from "../../openapi/route.ts";

export const resolveKeyRoute = defineRoute({
  method: "post",
  path: KEY_RESOLVE_PATH,
  tag: "internal",
  access: "internal",
  summary: "The router's fallback when Redis lacks a key: the KeyRecord from PocketBase, rewritten to Redis",
  body: KeyResolveRequest,
  responses: { 200: { description: "The KeyRecord (revoked and expired keys included)", schema: KeyRecord } },
  errors: ["not_found"],
  handle: async (c, deps) => {
    const { key_hash } = await readJson(c, KeyResolveRequest);
    const record = await reloadKeyByHash({
      db: deps.db,
      redis: deps.redis,
      logger: deps.logger,
      keyHash: key_hash,
    });
    if (!record) throw new AppError("not_found", "No key with this hash");
    return c.json(record);
  },
});

export const rotateSigningKeyRoute = defineRoute({
  method: "post",
  path: "/internal/signing-keys/rotate",
  tag: "internal",
  access: "internal",
  summary: "Start signing with a new key now (the old one verifies until its tokens expire)",
  responses: { 200: { description: "The new key id", schema: z.object({ kid: z.string() }) } },
  handle: async (c, deps) => c.json({ kid: await deps.signing.rotate() }),
});
