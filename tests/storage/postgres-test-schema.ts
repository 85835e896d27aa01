/**
 * PostgreSQL for integration tests and benchmarks: other suites share the same database, so every
 * run gets its own schema (`cypher_test_<random>`, `cypher_bench_<random>`), reached through a URL
 * whose `options` parameter sets the search_path, and drops it afterwards. Never touches `public`
 * or anyone else's schema.
 */
import { randomBytes } from "node:crypto";
import pg from "pg";

export const TEST_DATABASE_URL = process.env.TEST_DATABASE_URL;

export interface TestSchema {
  name: string;
  /** The base URL with `options=-c search_path=<name>`: every pooled connection lands in the schema. */
  url: string;
  drop(): Promise<void>;
}

export function createTestSchema(baseUrl: string): Promise<TestSchema> {
  return createScratchSchema(baseUrl, "cypher_test");
}

/** A fresh schema named `<prefix>_<random>` in the database at `baseUrl`. */
export async function createScratchSchema(baseUrl: string, prefix: "cypher_test" | "cypher_bench"): Promise<TestSchema> {
  const name = `${prefix}_${randomBytes(6).toString("hex")}`;
  await withClient(baseUrl, (client) => client.query(`create schema ${name}`));
  const url = new URL(baseUrl);
  url.searchParams.set("options", `-c search_path=${name}`);
  return {
    name,
    url: url.toString(),
    drop: () => withClient(baseUrl, (client) => client.query(`drop schema if exists ${name} cascade`)).then(() => undefined),
  };
}

async function withClient<T>(url: string, use: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await use(client);
  } finally {
    await client.end();
  }
}
