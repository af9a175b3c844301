/**
 * The product's sources as one esbuild bundle: what `npm start` runs, and what the test
 * suite starts its processes from (test/support/product-bundle.ts).
 *
 * Why not tsx at run time: through its loader hook a runner resolves and transforms some
 * nine hundred modules at start (~4 s of CPU) and keeps the loader's caches for good. From
 * the bundle an idle runner holds 154 MB of RSS instead of 342, and a 4,000-photo burst
 * peaked at 767 MB instead of 867 (BENCHMARKS.md).
 *
 *   node --import tsx scripts/build.ts     (npm run build)
 *
 * builds the bundle of the current sources into node_modules/.cache/product-bundle/start-<hash>
 * unless it is there already, points `dist` at it and prints its directory. The hash covers
 * every input, so a changed source builds again and an unchanged one costs a hash. Several
 * runners started at once from one checkout may all build; each builds apart and the first
 * rename wins, so none runs a half-written bundle.
 */
import { build } from "esbuild"
import { createHash } from "node:crypto"
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs"
import { join, relative, resolve } from "node:path"

/**
 * Native addons stay outside the bundle (the optional ones are absent on most machines), and
 * so does esbuild, which finds its binary next to its own package (scripts/cluster-local.ts,
 * bundled for the tests, imports this module). So do grammY's fetch and its AbortController:
 * bundling renames a class whose name collides with another (abort-controller's AbortSignal
 * with Node's), and node-fetch checks a signal by its class name. Kept apart, they keep
 * their names without esbuild's `keepNames`, which names every function and class again as
 * it is made, at run time: 5 % of a runner's CPU under a burst (BENCHMARKS.md).
 */
const external = [
  "better-sqlite3",
  "pg-native",
  "msgpackr-extract",
  "@parcel/watcher",
  "bufferutil",
  "utf-8-validate",
  "esbuild",
  "node-fetch",
  "abort-controller"
]

/** Read at run time next to the module that names it (src/sim/telegram/spec-validation.ts). */
const telegramSpec = "src/sim/telegram/telegram-bot-api-10.1.json"

/** Inside node_modules, so that a bundle finds the native addons where npm put them. */
export const bundlesDirectory = resolve("node_modules/.cache/product-bundle")

/** Bundles `entryPoints` (name → source) into `directory`, one `<name>.js` each plus shared chunks. */
export const bundleProduct = async (directory: string, entryPoints: Record<string, string>) => {
  mkdirSync(directory, { recursive: true })
  writeFileSync(join(directory, "package.json"), JSON.stringify({ type: "module" }))
  await build({
    entryPoints,
    outdir: directory,
    bundle: true,
    splitting: true,
    platform: "node",
    format: "esm",
    target: "node20",
    external,
    // The CommonJS dependencies call require(); an ES module has none of its own.
    banner: { js: "import { createRequire as __createRequire } from \"node:module\"; const require = __createRequire(import.meta.url);" },
    logLevel: "warning"
  })
  copyFileSync(telegramSpec, join(directory, "telegram-bot-api-10.1.json"))
}

const filesUnder = (directory: string): Array<string> =>
  readdirSync(directory, { withFileTypes: true }).flatMap((entry) => {
    const path = join(directory, entry.name)
    return entry.isDirectory() ? filesUnder(path) : [path]
  })

/** What the bundle is made of: the sources, this script, and the exact dependencies. */
const inputsHash = () => {
  const hash = createHash("sha256")
  for (const file of [...filesUnder("src").sort(), "scripts/product-bundle.ts", "package-lock.json"]) {
    hash.update(relative(".", file)).update("\0").update(readFileSync(file)).update("\0")
  }
  return hash.digest("hex").slice(0, 16)
}

/** A day: a bundle older than that and not the current one is removed (a runner started from it has long loaded it). */
const keepOldBundlesMs = 24 * 60 * 60 * 1000

/** The directory of the bundle `npm start` runs (its `main.js`), built if the sources changed. */
export const startBundle = async (): Promise<string> => {
  const name = `start-${inputsHash()}`
  const directory = join(bundlesDirectory, name)
  if (!existsSync(join(directory, "main.js"))) {
    const building = `${directory}.${process.pid}.tmp`
    rmSync(building, { recursive: true, force: true })
    await bundleProduct(building, { main: "src/main.ts" })
    try {
      renameSync(building, directory)
    } catch (error) {
      // Another start renamed the same bundle first.
      rmSync(building, { recursive: true, force: true })
      if (!existsSync(join(directory, "main.js"))) throw error
    }
  }
  for (const entry of readdirSync(bundlesDirectory)) {
    const path = join(bundlesDirectory, entry)
    if (entry.startsWith("start-") && entry !== name && Date.now() - statSync(path).mtimeMs > keepOldBundlesMs) {
      rmSync(path, { recursive: true, force: true })
    }
  }
  // `dist` for a process manager that names a fixed path; swapped in one rename. `npm start`
  // runs the directory it is given, so a `dist` that is not ours (a directory) only warns.
  const link = `dist.${process.pid}.tmp`
  rmSync(link, { force: true })
  symlinkSync(relative(".", directory), link)
  try {
    renameSync(link, "dist")
  } catch (error) {
    rmSync(link, { force: true })
    console.error(`dist not pointed at ${directory}: ${(error as Error).message}`)
  }
  return directory
}

