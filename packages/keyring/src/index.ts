export * from "./publish.ts";
export * from "./records.ts";
export * from "./tier.ts";
