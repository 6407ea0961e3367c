import { readJson, readParams, readQuery } from "@cloudfreedom/service-kit";
import { defineRoute } from "../../openapi/route.ts";
import { createKey } from "../../services/keys/create.ts";
import { getKey, listKeys, revokeKey, updateKey } from "../../services/keys/manage.ts";
import { rotateKey } from "../../services/keys/rotate.ts";
import { CreateKeyBody, ListKeysQuery, RotateKeyBody, UpdateKeyBody } from "../../services/keys/schema.ts";
import { actorOf, client, IdParam, Page } from "../common.ts";
import { KeyView, KeyWithSecret, RotatedKey } from "./schema.ts";

const OWNERSHIP = "Members manage their own keys; owners and admins every key of the tenant.";

export const createKeyRoute = defineRoute({
  method: "post",
  path: "/v1/keys",
  tag: "keys",
  access: "user",
  summary: "Create a virtual API key (the secret is in this answer only)",
  description: `Rate limited per IP and per user. ${OWNERSHIP}`,
  body: CreateKeyBody,
  responses: { 201: { description: "The key and its secret", schema: KeyWithSecret } },
  errors: ["forbidden", "too_many_attempts"],
  handle: async (c, deps) =>
    c.json(await createKey(deps, actorOf(c), await readJson(c, CreateKeyBody), client(c, deps)), 201),
});

export const listKeysRoute = defineRoute({
  method: "get",
  path: "/v1/keys",
  tag: "keys",
  access: "user",
  summary: "List keys (never the secret)",
  description: OWNERSHIP,
  query: ListKeysQuery,
  responses: { 200: { description: "A page of keys", schema: Page(KeyView) } },
  handle: async (c, deps) => c.json(await listKeys(deps, actorOf(c), readQuery(c, ListKeysQuery))),
});

export const getKeyRoute = defineRoute({
  method: "get",
  path: "/v1/keys/:id",
  tag: "keys",
  access: "user",
  summary: "One key",
  params: IdParam,
  responses: { 200: { description: "The key", schema: KeyView } },
  errors: ["not_found"],
  handle: async (c, deps) => c.json(await getKey(deps, actorOf(c), readParams(c, IdParam).id)),
});

export const updateKeyRoute = defineRoute({
  method: "patch",
  path: "/v1/keys/:id",
  tag: "keys",
  access: "user",
  summary: "Change name, scopes, model allowlist, rpm/tpm, budget or expiry (null clears a limit)",
  params: IdParam,
  body: UpdateKeyBody,
  responses: { 200: { description: "The key", schema: KeyView } },
  errors: ["not_found", "forbidden", "conflict"],
  handle: async (c, deps) =>
    c.json(
      await updateKey(
        deps,
        actorOf(c),
        readParams(c, IdParam).id,
        await readJson(c, UpdateKeyBody),
        client(c, deps),
      ),
    ),
});

export const rotateKeyRoute = defineRoute({
  method: "post",
  path: "/v1/keys/:id/rotate",
  tag: "keys",
  access: "user",
  summary: "New secret, same settings; the old secret works for grace_period_s more seconds (0 = revoke now)",
  params: IdParam,
  body: RotateKeyBody,
  responses: { 201: { description: "The successor with its secret, and the old key", schema: RotatedKey } },
  errors: ["not_found", "conflict"],
  handle: async (c, deps) => {
    const id = readParams(c, IdParam).id;
    const text = await c.req.text();
    const body = text.trim() === "" ? RotateKeyBody.parse({}) : await readJson(c, RotateKeyBody);
    return c.json(await rotateKey(deps, actorOf(c), id, body, client(c, deps)), 201);
  },
});

export const revokeKeyRoute = defineRoute({
  method: "post",
  path: "/v1/keys/:id/revoke",
  tag: "keys",
  access: "user",
  summary: "Revoke now: every router refuses the key within a second",
  params: IdParam,
  responses: { 200: { description: "The revoked key", schema: KeyView } },
  errors: ["not_found"],
  handle: async (c, deps) =>
    c.json(await revokeKey(deps, actorOf(c), readParams(c, IdParam).id, client(c, deps))),
});
