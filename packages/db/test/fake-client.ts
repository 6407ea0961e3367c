import type PocketBase from "pocketbase";
import { ClientResponseError } from "pocketbase";
import type { PocketBaseClient } from "../src/client.ts";

export type Row = Record<string, unknown>;

/** A PocketBaseClient whose batch `send` is `onSend`, and whose key lookups read `rows`. */
export function fakeClient(onSend: (records: Row[]) => Promise<Row[]>, rows: Row[] = []) {
  const sends: Row[][] = [];
  let logins = 0;
  const pb = {
    createBatch() {
      const records: Row[] = [];
      return {
        collection: () => ({ create: (record: Row) => records.push(record) }),
        send: async () => {
          sends.push(records);
          const created = await onSend(records);
          return created.map((body) => ({ status: 200, body }));
        },
      };
    },
    collection: () => ({
      // Enough of PocketBase's filter language for `(tenant = "a" && event_id = "b") || …`.
      getFullList: async (options: { filter: string }) => {
        const wanted = [...options.filter.matchAll(/event_id = "([^"]+)"/g)].map((m) => m[1]);
        return rows.filter((row) => wanted.includes(String(row.event_id)));
      },
    }),
  } as unknown as PocketBase;
  const client: PocketBaseClient = {
    url: "http://fake",
    pb,
    call: (fn) => fn(pb),
    callRaw: (fn) => fn(pb),
    filter: (raw, params = {}) =>
      raw.replace(/\{:(\w+)\}/g, (_, name: string) => JSON.stringify(String(params[name]))),
    authenticate: async () => {
      logins += 1;
    },
    ping: async () => true,
  };
  return { client, sends, rows, logins: () => logins };
}

export const batchError = (index: number, status: number, data: Row) =>
  new ClientResponseError({
    status: 400,
    response: {
      status: 400,
      message: "Batch transaction failed.",
      data: {
        requests: { [index]: { code: "batch_request_failed", response: { status, message: "x", data } } },
      },
    },
  });

/** A fake table with a unique index on (tenant, event_id). */
export function uniqueTable(rows: Row[]) {
  let next = 0;
  return async (records: Row[]): Promise<Row[]> => {
    const index = records.findIndex((r) =>
      rows.some((row) => row.event_id === r.event_id && row.tenant === r.tenant),
    );
    if (index >= 0) {
      throw batchError(index, 400, {
        event_id: { code: "validation_not_unique", message: "Value must be unique." },
        tenant: { code: "validation_not_unique", message: "Value must be unique." },
      });
    }
    const created = records.map((r) => ({ ...r, id: `use_${next++}` }));
    rows.push(...created);
    return created;
  };
}
