/**
 * `npm run cluster:local -- 3`: N runners of `src/main.ts` on this machine, against the
 * local Postgres and Redis, for operators trying cluster mode and for tests.
 *
 * - DATABASE_URL (default postgres://127.0.0.1:5432/bot_local; the database is created when
 *   missing) and REDIS_URL (default redis://127.0.0.1:6379) are shared by every runner.
 * - Runner i (from 0) listens on HTTP_PORT+i (default 8080) and RUNNER_PORT+i (default
 *   34431); its output lines are prefixed with its name.
 * - Without TELEGRAM_BOT_TOKEN and KIE_API_KEY each runner would start simulators of its
 *   own, and users of one would be invisible to the others; instead this process starts one
 *   Telegram and one KIE simulator and points every runner at them. One of the two without
 *   the other is refused, as `npm start` refuses it.
 * - Without CLUSTER_SECRET (or KIE_CALLBACK_SECRET) every runner gets the same random one.
 * - The first runner starts alone and the others only once its /readyz answers: runners
 *   that start together on a fresh database race on the cluster's own migrations.
 * - SIGINT or SIGTERM is passed on to every runner as SIGTERM (each drains and hands its
 *   shards over); a second one kills them. So is the death of the parent process (npm). The script exits when all runners have, with 0
 *   only if every runner exited 0.
 *
 * Any other variable (ADMIN_IDS, LOG_LEVEL, PUBLIC_URL…) is passed to every runner as is.
 */
import { type ChildProcess, spawn } from "node:child_process"
import { randomBytes } from "node:crypto"
import { join } from "node:path"
import { createInterface } from "node:readline"
import { Redacted } from "effect"
import pg from "pg"
import { startKieSimulator } from "../src/sim/kie/index.js"
import { productArguments, runnerNodeFlags } from "../src/sim/runner-process.js"
import { TelegramSimulator } from "../src/sim/telegram/index.js"
import { withDefaultUser } from "../src/storage/database.js"
import { startBundle } from "./product-bundle.js"

const log = (line: string) => console.log(`[cluster] ${line}`)

const count = Number(process.argv[2] ?? "3")
if (!Number.isInteger(count) || count < 1 || count > 32) {
  console.error("usage: npm run cluster:local -- <runners, 1 to 32>")
  process.exit(2)
}

const intFromEnv = (name: string, fallback: number) => {
  const raw = process.env[name]
  if (raw === undefined || raw === "") return fallback
  const value = Number(raw)
  if (!Number.isInteger(value) || value < 1 || value + count - 1 > 65535) {
    console.error(`${name} must be a port number with room for ${count} runners, got "${raw}"`)
    process.exit(2)
  }
  return value
}

const httpBase = intFromEnv("HTTP_PORT", 8080)
const runnerBase = intFromEnv("RUNNER_PORT", 34431)
const databaseUrl = process.env.DATABASE_URL || "postgres://127.0.0.1:5432/bot_local"
const redisUrl = process.env.REDIS_URL || "redis://127.0.0.1:6379"
const readyTimeoutMs = Number(process.env.CLUSTER_READY_TIMEOUT_MS ?? "120000")

/** Creates the database named in the URL when the server does not have it yet. */
const ensureDatabase = async (url: string) => {
  const target = new URL(Redacted.value(withDefaultUser(Redacted.make(url))))
  const name = decodeURIComponent(target.pathname.replace(/^\//, ""))
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) throw new Error(`cannot create a database named "${name}"; create it yourself`)
  const server = new URL(target)
  server.pathname = "/postgres"
  const client = new pg.Client({ connectionString: server.toString() })
  await client.connect()
  try {
    const found = await client.query("SELECT 1 FROM pg_database WHERE datname = $1", [name])
    if (found.rowCount === 0) {
      await client.query(`CREATE DATABASE ${name}`).catch((error: { code?: string }) => {
        // Another script creating it at the same moment is as good.
        if (error.code !== "42P04" && error.code !== "23505") throw error
      })
      log(`created database ${name}`)
    }
  } finally {
    await client.end()
  }
}

interface Runner {
  readonly name: string
  readonly httpPort: number
  readonly child: ChildProcess
  readonly exited: Promise<number>
}

const runners: Array<Runner> = []
let stopping = false

/** How each runner is started: from the test suite's bundle in a test, else as `npm start` starts one. */
let runnerArguments: Array<string> = []

const startRunner = (index: number, env: Record<string, string>): Runner => {
  const name = `runner-${index + 1}`
  const httpPort = httpBase + index
  const child = spawn(process.execPath, runnerArguments, {
    cwd: process.cwd(),
    env: {
      ...process.env,
      ...env,
      DATABASE_URL: databaseUrl,
      REDIS_URL: redisUrl,
      HTTP_PORT: String(httpPort),
      RUNNER_PORT: String(runnerBase + index)
    },
    stdio: ["ignore", "pipe", "pipe"],
    // Its own process group: a Ctrl-C in the terminal reaches this script only, which
    // passes one SIGTERM on, instead of every runner getting SIGINT and SIGTERM both.
    detached: true
  })
  for (const stream of [child.stdout!, child.stderr!]) {
    createInterface({ input: stream }).on("line", (line) => console.log(`[${name}] ${line}`))
  }
  const exited = new Promise<number>((resolve) =>
    child.once("exit", (code, signal) => {
      log(`${name} exited with ${code ?? signal}`)
      resolve(code ?? 1)
    })
  )
  const runner = { name, httpPort, child, exited }
  runners.push(runner)
  return runner
}

const isReady = async (port: number) => {
  try {
    const response = await fetch(`http://127.0.0.1:${port}/readyz`)
    return response.status === 200
  } catch {
    return false
  }
}

/** True once /readyz answers 200; false if the runner exits first or the time runs out. */
const waitReady = async (runner: Runner) => {
  const deadline = Date.now() + readyTimeoutMs
  let exited = false
  void runner.exited.then(() => (exited = true))
  while (Date.now() < deadline && !exited && !stopping) {
    if (await isReady(runner.httpPort)) return true
    await new Promise((resolve) => setTimeout(resolve, 250))
  }
  return false
}

const signalAll = (signal: NodeJS.Signals) => {
  for (const runner of runners) {
    if (runner.child.exitCode === null && runner.child.signalCode === null) runner.child.kill(signal)
  }
}

const onSignal = (signal: NodeJS.Signals) => {
  if (stopping) {
    log(`${signal} again: killing the runners`)
    return signalAll("SIGKILL")
  }
  stopping = true
  log(`${signal}: draining every runner (SIGTERM); press Ctrl-C again to kill them`)
  signalAll("SIGTERM")
}
process.on("SIGINT", () => onSignal("SIGINT"))
process.on("SIGTERM", () => onSignal("SIGTERM"))
// `npm run` starts this script through `sh -c`, which does not pass SIGTERM on: when npm
// is stopped, the shell dies and this process is re-parented. Treat that as a SIGTERM.
const parent = process.ppid
setInterval(() => {
  if (process.ppid !== parent && !stopping) {
    log("the parent process (npm) is gone")
    onSignal("SIGTERM")
  }
}, 500).unref()
// Runners live in their own process groups, so they must not outlive this script.
process.on("exit", () => signalAll("SIGKILL"))

const main = async () => {
  await ensureDatabase(databaseUrl)
  runnerArguments = process.env.PRODUCT_BUNDLE_DIR
    ? productArguments("main")
    : [...runnerNodeFlags, join(await startBundle(), "main.js")]

  const shared: Record<string, string> = {}
  const closers: Array<() => Promise<void>> = []
  const notes: Array<string> = []
  // All or nothing, as for one runner (src/config/): real users must never meet a simulator.
  const hasToken = Boolean(process.env.TELEGRAM_BOT_TOKEN)
  const hasKey = Boolean(process.env.KIE_API_KEY)
  if (hasToken !== hasKey) {
    console.error(hasToken
      ? "KIE_API_KEY must be set when TELEGRAM_BOT_TOKEN is set (the simulators run only when neither is set)"
      : "TELEGRAM_BOT_TOKEN must be set when KIE_API_KEY is set (the simulators run only when neither is set)")
    process.exit(2)
  }
  if (!hasToken) {
    const telegram = await new TelegramSimulator({ host: "127.0.0.1" }).start()
    closers.push(() => telegram.stop())
    shared.TELEGRAM_BOT_TOKEN = telegram.token
    shared.TELEGRAM_API_ROOT = telegram.url
    const kie = await startKieSimulator({ host: "127.0.0.1", clock: "real", phases: { generatingMs: 10_000 } })
    closers.push(() => kie.close())
    shared.KIE_API_KEY = kie.apiKey
    shared.KIE_BASE_URL = kie.url
    shared.KIE_UPLOAD_BASE_URL = kie.url
    // A simulated token still takes (simulated) payments; every runner signs them alike.
    if (!process.env.PAYMENTS_SECRET) shared.PAYMENTS_SECRET = randomBytes(24).toString("base64url")
    notes.push(
      `Telegram Bot API simulator (shared by all runners): ${telegram.url}`,
      // SANDBOX_BOT_URL: runner 0's /metrics, which tells the CLI when the bot's jobs are done.
      `  act as user 1001:  export SANDBOX_URL=${telegram.url} SANDBOX_BOT_URL=http://127.0.0.1:${httpBase}`,
      `                     npm run sandbox -- /start  |  photo path/to.jpg "the waves roll in"  |  npm run sandbox`,
      `KIE simulator (shared by all runners): ${kie.url}`
    )
  }
  // Every runner must mint and check the same callback tokens, and hold the same runner-port key.
  if (!process.env.KIE_CALLBACK_SECRET) shared.KIE_CALLBACK_SECRET = randomBytes(24).toString("base64url")
  if (!process.env.CLUSTER_SECRET) shared.CLUSTER_SECRET = randomBytes(32).toString("base64")

  const target = new URL(databaseUrl)
  target.password = ""
  log(`${count} runner(s) on ${target.host}${target.pathname} and ${new URL(redisUrl).host}; ` +
    `HTTP ports ${httpBase}..${httpBase + count - 1}, runner ports ${runnerBase}..${runnerBase + count - 1}`)
  for (const note of notes) log(note)

  const first = startRunner(0, shared)
  if (await waitReady(first)) {
    log(`${first.name} is ready (http://127.0.0.1:${first.httpPort}/readyz)`)
    const rest = Array.from({ length: count - 1 }, (_, i) => startRunner(i + 1, shared))
    void Promise.all(rest.map(async (runner) => {
      if (await waitReady(runner)) log(`${runner.name} is ready (http://127.0.0.1:${runner.httpPort}/readyz)`)
    })).then(() => {
      if (!stopping) log(`all ${count} runner(s) started; Ctrl-C drains them`)
    })
  } else if (!stopping) {
    log(`${first.name} did not become ready; stopping`)
    stopping = true
    signalAll("SIGTERM")
  }

  // Runners started later are in `runners` too: wait until every one has exited.
  let settled = 0
  const codes: Array<number> = []
  while (settled < runners.length) {
    codes.push(...await Promise.all(runners.slice(settled).map((runner) => runner.exited)))
    settled = codes.length
  }
  for (const close of closers) await close().catch(() => undefined)
  const ok = codes.every((code) => code === 0)
  log(ok ? "every runner exited cleanly" : `runner exit codes: ${codes.join(", ")}`)
  process.exit(ok ? 0 : 1)
}

main().catch((error) => {
  console.error(`[cluster] ${error instanceof Error ? error.message : String(error)}`)
  signalAll("SIGTERM")
  process.exit(1)
})
