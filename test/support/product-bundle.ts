/**
 * Vitest global setup: bundles the product's entry points once per test run, so that the
 * tests which start the real process (`startBot`, `productArguments` in
 * src/sim/runner-process.ts) start it from one file instead of through tsx's loader hook.
 *
 * The code is the same; only its loading differs. A start through tsx resolves and
 * transforms some nine hundred modules in a hook thread and costs ~4 s of CPU before the
 * process listens; the bundle is ready in ~1 s of CPU. The suite starts about thirty
 * processes on a 2-core machine. `npm start` runs a bundle too (scripts/product-bundle.ts),
 * of src/main.ts alone; test/npm-start.test.ts runs `npm start` itself.
 */
import { mkdirSync, readdirSync, rmSync } from "node:fs"
import { join } from "node:path"
import type { TestProject } from "vitest/node"
import { bundleProduct, bundlesDirectory } from "../../scripts/product-bundle.js"
import { productEntries } from "../../src/sim/runner-process.js"
import { isRunAlive } from "./leftovers.js"

const directory = join(bundlesDirectory, String(process.pid))

const bundle = async () => {
  mkdirSync(bundlesDirectory, { recursive: true })
  // A run stopped by Ctrl-C leaves its bundle behind; each is named by its run's pid (the
  // others there are `npm start`'s, scripts/product-bundle.ts).
  for (const name of readdirSync(bundlesDirectory)) {
    if (/^\d+$/.test(name) && !isRunAlive(Number(name))) rmSync(join(bundlesDirectory, name), { recursive: true, force: true })
  }
  await bundleProduct(directory, productEntries)
  process.env.PRODUCT_BUNDLE_DIR = directory
}

export const setup = async (project: TestProject) => {
  await bundle()
  // In watch mode, a rerun after an edit starts processes from the edited sources.
  project.onTestsRerun(bundle)
}

export const teardown = () => {
  rmSync(directory, { recursive: true, force: true })
}
