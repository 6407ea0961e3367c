import { ERROR_STATUS, type ErrorCode, ErrorEnvelope } from "@cloudfreedom/shared";
import { z } from "zod";
import type { RouteDef } from "./route.ts";

type Json = Record<string, unknown>;

const jsonSchema = (schema: z.ZodType, io: "input" | "output"): Json =>
  z.toJSONSchema(schema, { io, unrepresentable: "any", target: "draft-2020-12" }) as Json;

/** `/v1/keys/:id` → `/v1/keys/{id}` */
const openApiPath = (path: string) => path.replace(/:([A-Za-z_]+)/g, "{$1}");

function parameters(route: RouteDef): Json[] {
  const out: Json[] = [];
  for (const [where, schema] of [
    ["path", route.params],
    ["query", route.query],
  ] as const) {
    if (!schema) continue;
    const object = jsonSchema(schema, "input");
    const properties = (object.properties ?? {}) as Record<string, Json>;
    const required = new Set((object.required ?? []) as string[]);
    for (const [name, property] of Object.entries(properties)) {
      out.push({ name, in: where, required: where === "path" || required.has(name), schema: property });
    }
  }
  return out;
}

function errorResponses(route: RouteDef): Record<string, Json> {
  const codes = new Set<string>(["validation_failed", "internal_error", ...(route.errors ?? [])]);
  if (route.access === "user") for (const code of ["unauthorized", "token_expired"]) codes.add(code);
  if (route.access === "internal") for (const code of ["unauthorized", "forbidden"]) codes.add(code);
  const byStatus = new Map<number, string[]>();
  for (const code of codes) {
    const status = ERROR_STATUS[code as ErrorCode];
    if (status) byStatus.set(status, [...(byStatus.get(status) ?? []), code]);
  }
  return Object.fromEntries(
    [...byStatus].map(([status, list]) => [
      String(status),
      {
        description: `Error envelope; code ${list.join(" | ")}`,
        content: { "application/json": { schema: { $ref: "#/components/schemas/ErrorEnvelope" } } },
      },
    ]),
  );
}

function operation(route: RouteDef): Json {
  const responses: Json = {};
  for (const [status, spec] of Object.entries(route.responses)) {
    responses[status] = spec.schema
      ? {
          description: spec.description,
          content: { "application/json": { schema: jsonSchema(spec.schema, "output") } },
        }
      : { description: spec.description };
  }
  return {
    operationId: `${route.method}${route.path.replace(/[^A-Za-z0-9]+(.)?/g, (_m, c: string | undefined) => (c ? c.toUpperCase() : ""))}`,
    summary: route.summary,
    ...(route.description ? { description: route.description } : {}),
    tags: [route.tag],
    security:
      route.access === "user" ? [{ bearer: [] }] : route.access === "internal" ? [{ internal: [] }] : [],
    parameters: parameters(route),
    ...(route.body
      ? {
          requestBody: {
            required: true,
            content: { "application/json": { schema: jsonSchema(route.body, "input") } },
          },
        }
      : {}),
    responses: { ...responses, ...errorResponses(route) },
  };
}

/** OpenAPI 3.1 (JSON Schema 2020-12 dialect) from the route definitions, built once at boot. */
export function buildOpenApi(
  routes: RouteDef[],
  info: { title: string; version: string; serverUrl: string },
): Json {
  const paths: Record<string, Json> = {};
  for (const route of routes) {
    const path = openApiPath(route.path);
    paths[path] = { ...(paths[path] ?? {}), [route.method]: operation(route) };
  }
  return {
    openapi: "3.1.0",
    info: { title: info.title, version: info.version },
    servers: [{ url: info.serverUrl }],
    paths,
    components: {
      securitySchemes: {
        bearer: { type: "http", scheme: "bearer", bearerFormat: "JWT (ES256, from /v1/auth/login)" },
        internal: { type: "apiKey", in: "header", name: "x-internal-token" },
      },
      schemas: { ErrorEnvelope: jsonSchema(ErrorEnvelope, "output") },
    },
  };
}
