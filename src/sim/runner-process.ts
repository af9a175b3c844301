/**
 * Runs the real entry point (`src/main.ts`) as a child process, for the tests and the
 * benchmarks that need the real process: through tsx as `npm start` does, or from the
 * test suite's bundle of the same sources (`productArguments`).
 */
import { type ChildProcess, spawn } from "node:child_process"
import { once } from "node:events"
import { createServer } from "node:net"
import { join } from "node:path"

export interface StartedBot {
  readonly child: ChildProcess
  readonly output: () => string
  readonly exited: Promise<number | null>
}

export const isFree = (port: number) =>
  new Promise<boolean>((resolve) => {
    const server = createServer()
    server.once("error", () => resolve(false))
    server.listen(port, "127.0.0.1", () => server.close(() => resolve(true)))
  })

// Below Linux's ephemeral range (32768+): a port found free there can be handed to any
// outgoing connection (a Postgres client of a parallel test, say) before the child process
// binds it, which made a runner fail with EADDRINUSE in CI.
//
// A port is free when probed, but the child binds it a second or more later, and two test
// processes probing in that window would both hand it out: one test's HTTP request could then
// reach another's runner socket and wait for an answer that never comes. Vitest numbers the
// worker slots that run at once (VITEST_POOL_ID, from 1), so each slot walks 1,000 ports of its
// own; outside vitest (benchmarks) the whole range is walked. The pid picks where to start, so
// the next file in a slot does not first probe the ports its predecessor's children just left.
const slot = Number(process.env.VITEST_POOL_ID)
const portRange = Number.isInteger(slot) && slot > 0
  ? { from: 20_000 + ((slot - 1) % 12) * 1_000, size: 1_000 }
  : { from: 20_000, size: 12_000 }
let nextOffset = (process.pid % (portRange.size / 20)) * 20

/** A loopback port that is free now, for a child process to bind. */
export const freePort = async (): Promise<number> => {
  for (let attempt = 0; attempt < portRange.size; attempt++) {
    const port = portRange.from + (nextOffset++ % portRange.size)
    if (await isFree(port)) return port
  }
  throw new Error(`no free port in ${portRange.from}..${portRange.from + portRange.size - 1}`)
}

/** The entry points a test starts as a process, by the name of their bundle. */
export const productEntries = {
  "main": "src/main.ts",
  "sandbox-cli": "src/sim/sandbox-cli.ts",
  "cluster-local": "scripts/cluster-local.ts"
}

/**
 * Node's own flags for a runner, as `npm start` gives them (package.json; a test holds the
 * two together), so that a runner started here runs as in production.
 */
export const runnerNodeFlags: ReadonlyArray<string> = ["--max-semi-space-size=64", "--heap-growing-percent=50"]

/**
 * Node's arguments for one of the product's entry points: through tsx, as `npm start` and
 * `npm run sandbox` run them, or from the bundle of the same sources that the test suite
 * builds once per run (test/support/product-bundle.ts) when PRODUCT_BUNDLE_DIR names it.
 * The runner gets the flags of `npm start`.
 */
export const productArguments = (entry: keyof typeof productEntries): Array<string> => {
  const bundle = process.env.PRODUCT_BUNDLE_DIR
  const flags = entry === "main" ? runnerNodeFlags : []
  return bundle === undefined || bundle === ""
    ? [...flags, "--import", "tsx", productEntries[entry]]
    : [...flags, join(bundle, `${entry}.js`)]
}

/** Environment of the child: only what the test sets, plus what Node itself needs. */
export const startBot = (env: Record<string, string>): StartedBot => {
  const child = spawn(process.execPath, productArguments("main"), {
    cwd: process.cwd(),
    env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "/tmp", ...env },
    stdio: ["ignore", "pipe", "pipe"]
  })
  let output = ""
  child.stdout!.on("data", (chunk) => (output += chunk))
  child.stderr!.on("data", (chunk) => (output += chunk))
  const exited = once(child, "exit").then(([code]) => code as number | null)
  return { child, output: () => output, exited }
}

export const waitFor = async (probe: () => Promise<boolean>, timeoutMs: number): Promise<boolean> => {
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    if (await probe().catch(() => false)) return true
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  return false
}

/**
 * A probe with a deadline: a request the runner never answers (seen with runners on a
 * machine loaded past its cores, BENCHMARKS.md) fails here, and the caller's wait names what
 * it waited for, instead of hanging until the test's own timeout.
 */
export const getJson = async (url: string) => {
  const response = await fetch(url, { signal: AbortSignal.timeout(10_000) })
  return { status: response.status, body: (await response.json()) as Record<string, unknown> }
}
