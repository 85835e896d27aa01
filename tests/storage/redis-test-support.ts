/**
 * Redis for integration tests: other suites (and other people's runs) share the same server, so
 * every run gets its own random key prefix and deletes exactly its own keys afterwards.
 */
import { randomBytes } from "node:crypto";
import { Redis } from "ioredis";

export const TEST_REDIS_URL = process.env.TEST_REDIS_URL;

export function uniqueKeyPrefix(): string {
  return `cypher-test:${randomBytes(6).toString("hex")}:`;
}

/** Deletes every key that starts with `prefix` (SCAN, never KEYS, never FLUSHDB). */
export async function deleteKeysWithPrefix(url: string, prefix: string): Promise<number> {
  const redis = new Redis(url, { lazyConnect: true });
  await redis.connect();
  let deleted = 0;
  try {
    const pattern = prefix.replace(/[*?[\]\\]/g, (c) => `\\${c}`) + "*";
    let cursor = "0";
    do {
      const [next, keys] = await redis.scan(cursor, "MATCH", pattern, "COUNT", 500);
      cursor = next;
      if (keys.length > 0) deleted += await redis.unlink(...keys);
    } while (cursor !== "0");
  } finally {
    await redis.quit();
  }
  return deleted;
}
