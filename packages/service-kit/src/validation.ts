import { AppError } from "@cloudfreedom/shared";
import type { Context } from "hono";
import type { z } from "zod";
import { validationError } from "./errors.ts";

/**
 * Read and validate a JSON body. Invalid JSON is `invalid_json`; a body that fails the schema is
 * `validation_failed` naming the field. Content-Type is not required to be JSON, because `curl -d`
 * sends form encoding with a JSON body.
 */
export async function readJson<Schema extends z.ZodType>(
  c: Context,
  schema: Schema,
): Promise<z.infer<Schema>> {
  const text = await c.req.text();
  if (text.trim() === "") throw new AppError("invalid_json", "Request body is empty; send a JSON object");
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    const reason = error instanceof Error ? error.message : "unparseable";
    throw new AppError("invalid_json", `Request body is not valid JSON: ${reason}`);
  }
  return parseWith(schema, value, "body");
}

export function readQuery<Schema extends z.ZodType>(c: Context, schema: Schema): z.infer<Schema> {
  return parseWith(schema, c.req.query(), "query");
}

export function readParams<Schema extends z.ZodType>(c: Context, schema: Schema): z.infer<Schema> {
  return parseWith(schema, c.req.param(), "path");
}

export function parseWith<Schema extends z.ZodType>(
  schema: Schema,
  value: unknown,
  where: string,
): z.infer<Schema> {
  const result = schema.safeParse(value);
  if (!result.success) throw validationError(result.error, where, value);
  return result.data;
}
