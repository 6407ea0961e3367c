import { z } from "zod";

/**
 * Service-to-service calls on the internal network carry `x-internal-token: <INTERNAL_TOKEN>`.
 * The router calls auth's resolve endpoint when a key's record is missing from Redis (DESIGN.md §5).
 */
export const INTERNAL_TOKEN_HEADER = "x-internal-token";
export const KEY_RESOLVE_PATH = "/internal/keys/resolve";

export const KeyResolveRequest = z.object({ key_hash: z.string().regex(/^[0-9a-f]{64}$/) });
export type KeyResolveRequest = z.infer<typeof KeyResolveRequest>;
