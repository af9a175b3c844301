import { defineConfig } from "vitest/config"

/**
 * `npm run test:chaos`: the heavy cluster tests of issue #7 (test/chaos), two files at a
 * time. Each runs two to four runner processes against one Postgres, but spends most of its
 * time waiting (generations, deadlines, lock expiries): one file alone kept a 2-core
 * machine a fifth busy. More than two would measure the machine, not the product.
 */
export default defineConfig({
  test: {
    include: ["test/chaos/**/*.test.ts"],
    setupFiles: ["test/setup.ts"],
    globalSetup: ["test/support/product-bundle.ts"],
    testTimeout: 600_000,
    hookTimeout: 120_000,
    maxWorkers: 2,
    minWorkers: 1,
    sequence: { concurrent: false },
    // The [chaos]/[failover] report blocks are the point of the run: always print them.
    silent: false
  }
})
