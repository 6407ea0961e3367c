import type { PocketBaseClient } from "@cloudfreedom/db";
import type { UsageEvent } from "@cloudfreedom/shared";

/** PocketBase refuses filters over 3,500 characters; a term is under 100 (two ids), so 25 stay under. */
const TERMS_PER_QUERY = 25;

const keyOf = (tenantId: string, eventId: string) => `${tenantId}\n${eventId}`;

/**
 * Which of `events` already have their `usage_logs` row, by (tenant, event_id), the table's unique index.
 * One query per 25 events, run side by side.
 */
export async function findStoredEvents(
  client: PocketBaseClient,
  events: ReadonlyArray<Pick<UsageEvent, "tenant_id" | "event_id">>,
): Promise<boolean[]> {
  const chunks: Array<typeof events> = [];
  for (let start = 0; start < events.length; start += TERMS_PER_QUERY)
    chunks.push(events.slice(start, start + TERMS_PER_QUERY));
  const found = await Promise.all(
    chunks.map((chunk) => {
      const filter = chunk
        .map((event) =>
          client.filter("(tenant = {:tenant} && event_id = {:event})", {
            tenant: event.tenant_id,
            event: event.event_id,
          }),
        )
        .join(" || ");
      return client.call((pb) =>
        pb.collection("usage_logs").getFullList({ filter, fields: "tenant,event_id", batch: 1_000 }),
      );
    }),
  );
  const stored = new Set(found.flat().map((row) => keyOf(String(row.tenant), String(row.event_id))));
  return events.map((event) => stored.has(keyOf(event.tenant_id, event.event_id)));
}
