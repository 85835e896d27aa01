/**
 * The KeyValueStore contract on Redis (needs TEST_REDIS_URL). The run gets its own key prefix and
 * deletes its keys afterwards, so it can share a Redis with other suites.
 */
import { describe, it } from "vitest";
import { RedisKeyValueStore } from "../../server/storage/kv/redis-key-value-store.js";
import { keyValueStoreContract } from "../storage/key-value-store-contract.js";
import { deleteKeysWithPrefix, TEST_REDIS_URL, uniqueKeyPrefix } from "../storage/redis-test-support.js";

const url = TEST_REDIS_URL;
if (url) {
  const keyPrefix = uniqueKeyPrefix();
  keyValueStoreContract({
    name: "Redis",
    open: () => RedisKeyValueStore.connect({ url, keyPrefix }),
    // A second connection pair with the same prefix: what another server instance would have.
    openPeer: () => RedisKeyValueStore.connect({ url, keyPrefix }),
    cleanup: async () => {
      await deleteKeysWithPrefix(url, keyPrefix);
    },
  });
} else {
  describe.skip("KeyValueStore contract on Redis (set TEST_REDIS_URL to run)", () => {
    it("needs TEST_REDIS_URL", () => {});
  });
}
