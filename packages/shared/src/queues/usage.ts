import { UsageEvent } from "../usage.ts";

/** Queue `usage`: router and billing API produce, the billing worker consumes. */
export const usageQueue = { name: "usage", payload: UsageEvent } as const;
