export * from "./emulators/index.ts";
export * from "./factories.ts";
export * from "./oidc.ts";
export * from "./paths.ts";
export * from "./pocketbase.ts";
export * from "./processes.ts";
export * from "./redis.ts";
export * from "./stripe-mock.ts";
