import { availableParallelism } from "node:os";
import { describe, expect, it } from "vitest";
import { loadConfig } from "../../server/config.js";

describe("OPAQUE worker threads", () => {
  it("default to one with embedded storage, and to the cores (at most 4) with PostgreSQL", () => {
    expect(loadConfig({}).opaque.workerThreads).toBe(1);
    expect(loadConfig({ DATABASE_URL: "postgres://cypher@db/cypher" }).opaque.workerThreads).toBe(Math.max(1, Math.min(4, availableParallelism())));
  });

  it("follow OPAQUE_WORKER_THREADS whatever the storage", () => {
    expect(loadConfig({ OPAQUE_WORKER_THREADS: "3" }).opaque.workerThreads).toBe(3);
    expect(loadConfig({ OPAQUE_WORKER_THREADS: "1", DATABASE_URL: "postgres://cypher@db/cypher" }).opaque.workerThreads).toBe(1);
  });
});
