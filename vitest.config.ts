import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["tests/**/*.test.ts"],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // PGlite and OPAQUE are CPU-heavy; two workers match the CI machine's two cores.
    maxWorkers: 2,
    reporters: ["default"],
  },
});
