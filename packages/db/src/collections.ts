import { AppError } from "@cloudfreedom/shared";
import type PocketBase from "pocketbase";
import type { z } from "zod";
import type { PocketBaseClient } from "./client.ts";
import { type CollectionName, type CreateOf, ROW_SCHEMAS, type RowOf, type UpdateOf } from "./schemas.ts";

/** A filter with `{:name}` placeholders and their values; values are bound by the SDK, never concatenated. */
export interface FilterQuery {
  filter?: string;
  params?: Record<string, unknown>;
}

export interface ListQuery extends FilterQuery {
  sort?: string;
  page?: number;
  perPage?: number;
}

export interface ListPage<T> {
  items: T[];
  page: number;
  perPage: number;
  totalItems: number;
  totalPages: number;
}

export interface TypedCollection<C extends CollectionName> {
  readonly name: C;
  /** Throws AppError `not_found` when absent. */
  getOne(id: string): Promise<RowOf<C>>;
  /** The first row matching the filter, or null. */
  getFirst(query: FilterQuery & { sort?: string }): Promise<RowOf<C> | null>;
  list(query?: ListQuery): Promise<ListPage<RowOf<C>>>;
  /** Every matching row, fetched page by page. */
  listAll(query?: FilterQuery & { sort?: string }): Promise<RowOf<C>[]>;
  create(data: CreateOf<C>): Promise<RowOf<C>>;
  update(id: string, data: UpdateOf<C>): Promise<RowOf<C>>;
  delete(id: string): Promise<void>;
}

type PbRow = Record<string, unknown>;

/** A row that does not match its schema is our bug (or a migration drift), never the caller's. */
export function parseRow<C extends CollectionName>(name: C, row: unknown): RowOf<C> {
  const schema: z.ZodType<RowOf<C>> = ROW_SCHEMAS[name] as unknown as z.ZodType<RowOf<C>>;
  const result = schema.safeParse(row);
  if (result.success) return result.data;
  const error = new AppError("internal_error", `A ${name} row does not match its schema.`);
  error.cause = result.error;
  throw error;
}

/** Binds the caller's placeholders; an absent filter stays absent. */
export function bindFilter(client: Pick<PocketBaseClient, "filter">, query: FilterQuery | undefined): string {
  if (!query?.filter) return "";
  return client.filter(query.filter, query.params ?? {});
}

export function createCollection<C extends CollectionName>(
  client: PocketBaseClient,
  name: C,
): TypedCollection<C> {
  const rows = (pb: PocketBase) => pb.collection<PbRow>(name);
  const parse = (row: unknown) => parseRow(name, row);

  return {
    name,
    async getOne(id) {
      return parse(await client.call((pb) => rows(pb).getOne(id)));
    },
    async getFirst(query) {
      const filter = bindFilter(client, query);
      const page = await client.call((pb) =>
        rows(pb).getList(1, 1, { filter, sort: query.sort ?? "", skipTotal: true }),
      );
      const first = page.items[0];
      return first === undefined ? null : parse(first);
    },
    async list(query = {}) {
      const filter = bindFilter(client, query);
      const page = await client.call((pb) =>
        rows(pb).getList(query.page ?? 1, query.perPage ?? 50, { filter, sort: query.sort ?? "" }),
      );
      return { ...page, items: page.items.map(parse) };
    },
    async listAll(query = {}) {
      const filter = bindFilter(client, query);
      const items = await client.call((pb) =>
        rows(pb).getFullList({ filter, sort: query.sort ?? "", batch: 500 }),
      );
      return items.map(parse);
    },
    async create(data) {
      return parse(await client.call((pb) => rows(pb).create(data)));
    },
    async update(id, data) {
      return parse(await client.call((pb) => rows(pb).update(id, data)));
    },
    async delete(id) {
      await client.call((pb) => rows(pb).delete(id));
    },
  };
}
