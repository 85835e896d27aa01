/**
 * The KeyValueStore contract on a single Redis (TEST_REDIS_URL; the run gets its own key prefix and
 * deletes its keys afterwards, so it can share a Redis with other suites) and on a private
 * three-master Redis Cluster started for this file.
 */
import { describe, it } from "vitest";
import { keyValueStoreContract } from "../storage/key-value-store-contract.js";
import { sharedRedisDeployments } from "./support/shared-redis.js";

const deployments = sharedRedisDeployments();
for (const redis of deployments) {
  keyValueStoreContract({
    name: redis.name,
    open: () => redis.connect(),
    // A second connection pair with the same prefix: what another server instance would have.
    openPeer: () => redis.connect(),
    cleanup: () => redis.release(),
  });
}
if (deployments.length === 0) {
  describe.skip("KeyValueStore contract on Redis and Redis Cluster (set TEST_REDIS_URL to run)", () => {
    it("needs TEST_REDIS_URL", () => {});
  });
}
