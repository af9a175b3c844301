/**
 * `npm run cluster:local -- 2` as an operator runs it: the script creates its database,
 * starts the shared simulators and two runners (the second once the first is ready), and on
 * SIGTERM drains both and exits 0. The script and its runners start from the suite's bundle
 * of the sources (test/support/product-bundle.ts), not through tsx.
 */
import { describe, expect, it } from "@effect/vitest"
import { spawn } from "node:child_process"
import { once } from "node:events"
import pg from "pg"
import { Redacted } from "effect"
import { withDefaultUser } from "../../src/storage/database.js"
import { TEST_DATABASE_URL } from "../support/database.js"
import { freePort, productArguments, waitFor } from "../../src/sim/runner-process.js"

const TEST_REDIS_URL = process.env.TEST_REDIS_URL ?? "redis://127.0.0.1:6379"

/** A port whose next one is free too: the script gives runner i the base port + i. */
const freePair = async (): Promise<number> => {
  // freePort walks up one port at a time, so two calls in a row give neighbours when both are free.
  for (let attempt = 0; attempt < 500; attempt++) {
    const port = await freePort()
    if (await freePort() === port + 1) return port
  }
  throw new Error("no two consecutive free ports")
}

// Bounded: a runner that accepted the connection and never answered must fail this test with
// the script's output, not hang it until vitest's timeout says nothing.
const readyz = async (port: number) =>
  (await fetch(`http://127.0.0.1:${port}/readyz`, { signal: AbortSignal.timeout(5_000) })).status === 200

const within = <A>(promise: Promise<A>, ms: number): Promise<A | "timed out"> =>
  Promise.race([promise, new Promise<"timed out">((resolve) => setTimeout(() => resolve("timed out"), ms).unref())])

describe("npm run cluster:local", () => {
  it("starts two runners on a database it creates, both become ready, and both drain and exit 0 on SIGTERM", async () => {
    const name = `bot_local_test_${process.pid}_${Date.now()}`
    const url = new URL(TEST_DATABASE_URL)
    url.pathname = `/${name}`
    const [httpBase, runnerBase] = [await freePair(), await freePair()]
    const script = spawn(process.execPath, [...productArguments("cluster-local"), "2"], {
      cwd: process.cwd(),
      env: {
        ...(process.env.PRODUCT_BUNDLE_DIR === undefined ? {} : { PRODUCT_BUNDLE_DIR: process.env.PRODUCT_BUNDLE_DIR }),
        PATH: process.env.PATH ?? "",
        HOME: process.env.HOME ?? "/tmp",
        DATABASE_URL: url.toString(),
        REDIS_URL: TEST_REDIS_URL,
        HTTP_HOST: "127.0.0.1",
        HTTP_PORT: String(httpBase),
        RUNNER_PORT: String(runnerBase),
        TELEGRAM_POLL_TIMEOUT: "1",
        DRAIN_GRACE: "200ms"
      },
      stdio: ["ignore", "pipe", "pipe"]
    })
    let output = ""
    script.stdout!.on("data", (chunk) => (output += chunk))
    script.stderr!.on("data", (chunk) => (output += chunk))
    const exited = once(script, "exit").then(([code, signal]) => ({ code, signal }))
    const admin = new pg.Client({ connectionString: Redacted.value(withDefaultUser(Redacted.make(TEST_DATABASE_URL))) })
    await admin.connect()
    try {
      const bothReady = await waitFor(
        async () => (await readyz(httpBase)) && (await readyz(httpBase + 1)),
        90_000
      )
      expect(bothReady, output).toBe(true)
      expect(output).toContain(`created database ${name}`)
      // Each runner's lines carry its name; both joined the same cluster and share one Telegram simulator.
      expect(output).toMatch(/\[runner-1\] .*cluster mode: runner 127\.0\.0\.1:\d+/)
      expect(output).toMatch(/\[runner-2\] .*cluster mode: runner 127\.0\.0\.1:\d+/)
      expect((output.match(/Telegram Bot API simulator \(shared by all runners\)/g) ?? []).length).toBe(1)
      const runners = await admin.query(`SELECT 1 FROM pg_database WHERE datname = $1`, [name])
      expect(runners.rowCount).toBe(1)

      script.kill("SIGTERM")
      const exit = await within(exited, 60_000)
      expect(exit, output).toEqual({ code: 0, signal: null })
      expect(output).toContain("[cluster] runner-1 exited with 0")
      expect(output).toContain("[cluster] runner-2 exited with 0")
      expect(output).toContain("every runner exited cleanly")
    } finally {
      if (script.exitCode === null && script.signalCode === null) {
        script.kill("SIGKILL")
        await exited
      }
      await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`).catch(() => undefined)
      await admin.end()
    }
  }, 180_000)
})
