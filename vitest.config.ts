import { relative } from "node:path"
import { defineConfig } from "vitest/config"
import { BaseSequencer, type TestSpecification } from "vitest/node"

/**
 * Where the long files are: child processes, whole runners under minutes of TestClock.
 * Vitest runs the files it has timed longest first; a fresh checkout has no timings and
 * sorts by size, which would leave a short file that runs for a minute to the end, alone.
 */
const slowFirst = [
  "test/sim/sandbox-cli.test.ts",
  "test/jobs/job-entity-",
  "test/jobs/job-restart-",
  "test/jobs/job-failures-",
  "test/users/user-entity-",
  "test/payments/reconciliation-scale.test.ts",
  "test/main.test.ts",
  "test/cluster/",
  "test/security/",
  "test/e2e/kie-callbacks.test.ts",
  "test/jobs/",
  "test/users/",
  "test/npm-start.test.ts",
  "test/payments/",
  "test/e2e/"
]

class SlowFilesFirst extends BaseSequencer {
  override async sort(files: Array<TestSpecification>) {
    const sorted = await super.sort(files)
    const path = (file: TestSpecification) => relative(this.ctx.config.root, file.moduleId)
    if (files.every((file) => this.ctx.cache.getFileTestResults(`${file.project.name}:${path(file)}`) !== undefined)) {
      return sorted
    }
    const rank = (file: TestSpecification) => {
      const index = slowFirst.findIndex((prefix) => path(file).startsWith(prefix))
      return index === -1 ? slowFirst.length : index
    }
    return sorted.sort((a, b) => rank(a) - rank(b))
  }
}

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    // The heavy failover and chaos runs are `npm run test:chaos` (vitest.chaos.config.ts).
    exclude: ["test/chaos/**", "**/node_modules/**"],
    setupFiles: ["test/setup.ts"],
    globalSetup: ["test/support/product-bundle.ts", "test/support/postgres-template.ts"],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Cluster tests drive several runtimes; files run in parallel workers, tests in a file in order.
    sequence: { concurrent: false, sequencer: SlowFilesFirst },
    // The long suites mostly wait on loopback I/O, so more workers than the 2 cores pay off.
    maxWorkers: 4,
    // Each file in a fresh worker (vitest's default). Sharing workers between files
    // (isolate: false) saved ~200 s of module loading but let one file's leftovers (process-wide
    // metrics, fibers still running) reach the next: pure TestClock tests failed now and then.
    minWorkers: 1
  }
})
