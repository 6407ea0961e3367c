export * from "./connection.ts";
export * from "./consumer.ts";
export * from "./depth.ts";
export * from "./job-options.ts";
export * from "./lock.ts";
export * from "./payload.ts";
export * from "./producer.ts";
export * from "./scheduler.ts";
export type * from "./types.ts";
