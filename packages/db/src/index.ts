export * from "./batch-writer.ts";
export * from "./client.ts";
export * from "./collections.ts";
export * from "./dates.ts";
export * from "./db.ts";
export * from "./errors.ts";
export type { RetryPolicy } from "./retry.ts";
export * from "./schemas.ts";
export * from "./tenant-scope.ts";
