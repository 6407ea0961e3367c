export * from "./lock.ts";
export * from "./period-anchor.ts";
export * from "./publish.ts";
export * from "./records.ts";
export * from "./sessions.ts";
export * from "./standing-limits.ts";
export * from "./subscriptions.ts";
export * from "./tier.ts";
