import { relative } from "node:path"
import { defineConfig } from "vitest/config"
import { BaseSequencer, type TestSpecification } from "vitest/node"

/**
 * The order the two lanes take the files in: the chaos file (the longest, ~2 min) first,
 * the rest beside it, the short promo rush last, to whichever lane frees first. Left to
 * itself a fresh checkout ran the passivation file last, alone, for about half a minute.
 */
const order = ["chaos.test.ts", "broadcast-failover.test.ts", "failover.test.ts", "passivation.test.ts", "promo-rush.test.ts"]

class LongestFirst extends BaseSequencer {
  override async sort(files: Array<TestSpecification>) {
    const rank = (file: TestSpecification) => {
      const index = order.indexOf(relative("test/chaos", relative(this.ctx.config.root, file.moduleId)))
      return index === -1 ? order.length : index
    }
    return [...files].sort((a, b) => rank(a) - rank(b))
  }
}

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
    sequence: { concurrent: false, sequencer: LongestFirst },
    // The [chaos]/[failover] report blocks are the point of the run: always print them.
    silent: false
  }
})
