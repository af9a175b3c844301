/**
 * Vitest global setup: bundles the product's entry points once per test run, so that the
 * tests which start the real process (`startBot`, `productArguments` in
 * src/sim/runner-process.ts) start it from one file instead of through tsx's loader hook.
 *
 * The code is the same; only its loading differs. A start through tsx resolves and
 * transforms some nine hundred modules in a hook thread and costs ~4 s of CPU before the
 * process listens; the bundle is ready in ~1 s of CPU. The suite starts about thirty
 * processes on a 2-core machine. test/npm-start.test.ts still runs `npm start` itself.
 */
import { build } from "esbuild"
import { copyFileSync, mkdirSync, readdirSync, rmSync, writeFileSync } from "node:fs"
import { join, resolve } from "node:path"
import type { TestProject } from "vitest/node"
import { productEntries } from "../../src/sim/runner-process.js"
import { isRunAlive } from "./leftovers.js"

/** Native addons stay outside the bundle; the optional ones are absent on most machines. */
const native = ["better-sqlite3", "pg-native", "msgpackr-extract", "@parcel/watcher", "bufferutil", "utf-8-validate"]

// Inside node_modules, so that the bundle finds the native addons where npm put them.
const parent = resolve("node_modules/.cache/product-bundle")
const directory = join(parent, String(process.pid))

const bundle = async () => {
  mkdirSync(directory, { recursive: true })
  // A run stopped by Ctrl-C leaves its bundle behind; each is named by its run's pid.
  for (const name of readdirSync(parent)) {
    if (!isRunAlive(Number(name))) rmSync(join(parent, name), { recursive: true, force: true })
  }
  writeFileSync(join(directory, "package.json"), JSON.stringify({ type: "module" }))
  await build({
    entryPoints: productEntries,
    outdir: directory,
    bundle: true,
    splitting: true,
    platform: "node",
    format: "esm",
    target: "node20",
    external: native,
    // Bundling renames a class whose name collides with another (abort-controller's
    // AbortSignal with Node's); node-fetch, under grammY, checks a signal by its class name.
    keepNames: true,
    // The CommonJS dependencies call require(); an ES module has none of its own.
    banner: { js: "import { createRequire as __createRequire } from \"node:module\"; const require = __createRequire(import.meta.url);" },
    logLevel: "warning"
  })
  // Read at run time next to the module that names it (src/sim/telegram/spec-validation.ts).
  copyFileSync("src/sim/telegram/telegram-bot-api-10.1.json", join(directory, "telegram-bot-api-10.1.json"))
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
