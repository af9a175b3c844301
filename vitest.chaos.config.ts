import { defineConfig } from "vitest/config"

/**
 * `npm run test:chaos`: the heavy cluster tests of issue #7 (test/chaos), one file at a
 * time: each runs three or more runner processes against one Postgres on a small machine,
 * so running them side by side would measure the machine, not the product.
 */
export default defineConfig({
  test: {
    include: ["test/chaos/**/*.test.ts"],
    setupFiles: ["test/setup.ts"],
    globalSetup: ["test/support/product-bundle.ts"],
    testTimeout: 600_000,
    hookTimeout: 120_000,
    fileParallelism: false,
    sequence: { concurrent: false },
    // The [chaos]/[failover] report blocks are the point of the run: always print them.
    silent: false
  }
})
