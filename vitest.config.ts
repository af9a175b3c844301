import { defineConfig } from "vitest/config"

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    // The heavy failover and chaos runs are `npm run test:chaos` (vitest.chaos.config.ts).
    exclude: ["test/chaos/**", "**/node_modules/**"],
    setupFiles: ["test/setup.ts"],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Cluster tests drive several runtimes; files run in parallel workers, tests in a file in order.
    sequence: { concurrent: false },
    // The long suites mostly wait on loopback I/O, so more workers than the 2 cores pay off.
    maxWorkers: 4,
    minWorkers: 1
  }
})
