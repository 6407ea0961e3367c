import type { Context } from "hono";
import type { z } from "zod";
import type { AuthDeps } from "../deps.ts";

export type Method = "get" | "post" | "patch" | "put" | "delete";

/** `public`: no credentials; `user`: a bearer access token; `internal`: the x-internal-token header. */
export type Access = "public" | "user" | "internal";

export interface ResponseSpec {
  description: string;
  schema?: z.ZodType;
}

/**
 * One endpoint: what the OpenAPI document says about it and the handler. The handler parses with the same zod
 * schemas named here, so the document cannot drift from what the route accepts.
 */
export interface RouteDef {
  method: Method;
  /** Hono syntax: `/v1/keys/:id`. */
  path: string;
  summary: string;
  description?: string;
  tag: string;
  access: Access;
  body?: z.ZodType;
  query?: z.ZodType;
  params?: z.ZodType;
  responses: Record<number, ResponseSpec>;
  /** Error codes (packages/shared ERROR_STATUS) the route answers besides the common ones. */
  errors?: string[];
  handle: (c: Context, deps: AuthDeps) => Response | Promise<Response>;
}

export const defineRoute = (route: RouteDef): RouteDef => route;
