/**
 * A real cluster for tests and benchmarks: runner child processes (`src/main.ts`, through
 * `productArguments` in ./runner-process.ts) on a fresh Postgres database and a Redis, with
 * the KIE and Bot API simulators running in the calling process on loopback, on real time
 * with short generations. Jobs are created the way users create them: a simulated user sends a photo
 * to the bot.
 */
import { randomBytes } from "node:crypto"
import { createWriteStream, mkdirSync } from "node:fs"
import { createServer, type Server } from "node:http"
import type { AddressInfo } from "node:net"
import pg from "pg"
import { Redacted } from "effect"
import { withDefaultUser } from "../storage/database.js"
import type { KieChaos } from "./kie/faults.js"
import { type KieSimulator, startKieSimulator } from "./kie/index.js"
import { freePort, getJson, type StartedBot, startBot, waitFor } from "./runner-process.js"
import { TelegramSimulator } from "./telegram/index.js"

/** A JPEG's first bytes and some filler: the simulators check types, not pixels. */
const photoBytes = new Uint8Array([0xff, 0xd8, 0xff, 0xe0, ...Array.from({ length: 2048 }, (_, i) => i % 251)])

/** The failover knobs every test cluster runs with (the documented defaults, spelled out). */
export const TIMINGS = {
  SHARD_LOCK_REFRESH: "2s",
  SHARD_LOCK_EXPIRATION: "6s",
  RUNNER_HEALTH_CHECK_INTERVAL: "2s",
  ENTITY_TERMINATION_TIMEOUT: "5s",
  DRAIN_GRACE: "1s"
} as const

/** The bound the tests hold failover to: the expiration plus generous slack for a loaded CI machine. */
export const FAILOVER_BOUND_MS = 20_000

export interface Runner extends StartedBot {
  readonly name: string
  readonly httpPort: number
  readonly runnerPort: number
}

/** Where KIE's callbacks go: a loopback round-robin over the live runners (PUBLIC_URL). */
export interface CallbackProxy {
  readonly url: string
  /** Forwarded to a runner and answered / refused because no live runner took it. */
  readonly stats: () => { readonly forwarded: number; readonly failed: number }
  readonly close: () => Promise<void>
}

export interface ClusterOptions {
  /** A database of the Postgres server the cluster's own database is created on. */
  readonly adminDatabaseUrl: string
  readonly redisUrl: string
  /** Keeps each runner's whole output in this directory, as <database>-<runner>.log. */
  readonly logDir?: string | undefined
  readonly kiePhases?: { waitingMs: number; queuingMs: number; generatingMs: number }
  /** The simulator's own createTask limit (KIE's is 20 per 10 s); default none. */
  readonly kieRateLimit?: { readonly limit: number; readonly windowMs: number } | false
  readonly kieChaos?: KieChaos
  /** "manual": KIE tasks only move when the test calls `kie.advance(ms)` (hold jobs in flight). */
  readonly kieClock?: "real" | "manual"
  /** Seed of the Bot API simulator's probabilistic faults. */
  readonly telegramFaultSeed?: number
  /** Give the runners a PUBLIC_URL (a round-robin proxy to the live runners) so KIE calls back. */
  readonly callbacks?: boolean
  /** Environment every runner gets on top of the defaults. */
  readonly runnerEnv?: Record<string, string>
}

export interface TestCluster {
  readonly databaseUrl: string
  /** The secrets the runners were given, which must never show in logs or rows. */
  readonly secrets: Record<string, string>
  readonly callbackProxy: CallbackProxy | undefined
  readonly telegram: TelegramSimulator
  readonly kie: KieSimulator
  readonly runners: Array<Runner>
  readonly start: (name: string, env?: Record<string, string>) => Promise<Runner>
  readonly query: <T extends pg.QueryResultRow>(text: string, values?: Array<unknown>) => Promise<Array<T>>
  readonly close: () => Promise<void>
}

export const readyz = async (runner: Runner) => {
  try {
    return await getJson(`http://127.0.0.1:${runner.httpPort}/readyz`)
  } catch {
    return { status: 0, body: {} as Record<string, unknown> }
  }
}

export const shardsOf = async (runner: Runner) => Number((await readyz(runner)).body.shards ?? 0)

/** Fresh database, both simulators, no runner yet. */
/** Forwards each request to the next live runner's HTTP port; a request no runner takes fails with 502. */
export const startCallbackProxy = async (targets: () => ReadonlyArray<Runner>): Promise<CallbackProxy> => {
  let next = 0
  let forwarded = 0
  let failed = 0
  const server: Server = createServer((req, res) => {
    const chunks: Array<Buffer> = []
    req.on("data", (chunk: Buffer) => chunks.push(chunk))
    req.on("end", async () => {
      const live = targets().filter((runner) => runner.child.exitCode === null && runner.child.signalCode === null)
      const runner = live[next++ % Math.max(1, live.length)]
      try {
        if (runner === undefined) throw new Error("no live runner")
        const response = await fetch(`http://127.0.0.1:${runner.httpPort}${req.url ?? "/"}`, {
          method: req.method ?? "POST",
          headers: Object.fromEntries(
            Object.entries(req.headers).filter(([key, value]) => typeof value === "string" && !["host", "connection", "content-length"].includes(key))
          ) as Record<string, string>,
          ...(req.method === "GET" || req.method === "HEAD" ? {} : { body: Buffer.concat(chunks) }),
          signal: AbortSignal.timeout(10_000)
        })
        const body = Buffer.from(await response.arrayBuffer())
        forwarded++
        res.writeHead(response.status, { "content-type": response.headers.get("content-type") ?? "application/json" })
        res.end(body)
      } catch {
        // A runner killed under the request: the callback is lost, as it would be in production.
        failed++
        res.writeHead(502, { "content-type": "text/plain" })
        res.end("bad gateway")
      }
    })
  })
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    stats: () => ({ forwarded, failed }),
    close: async () => {
      server.closeAllConnections()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    }
  }
}

export const makeCluster = async (options: ClusterOptions): Promise<TestCluster> => {
  const adminUrl = Redacted.value(withDefaultUser(Redacted.make(options.adminDatabaseUrl)))
  const admin = new pg.Client({ connectionString: adminUrl })
  await admin.connect()
  const name = `bot_cluster_${process.pid}_${Date.now()}_${Math.floor(Math.random() * 1e6)}`
  await admin.query(`CREATE DATABASE ${name}`)
  const url = new URL(adminUrl)
  url.pathname = `/${name}`
  const databaseUrl = url.toString()
  const db = new pg.Client({ connectionString: databaseUrl })
  await db.connect()

  const telegram = await new TelegramSimulator({
    host: "127.0.0.1",
    retainBotUploads: false,
    ...(options.telegramFaultSeed === undefined ? {} : { faultSeed: options.telegramFaultSeed })
  }).start()
  const kie = await startKieSimulator({
    host: "127.0.0.1",
    phases: options.kiePhases ?? { waitingMs: 500, queuingMs: 500, generatingMs: 3_000 },
    rateLimit: options.kieRateLimit ?? false,
    clock: options.kieClock ?? "real",
    ...(options.kieChaos === undefined ? {} : { chaos: options.kieChaos })
  })

  const runners: Array<Runner> = []
  const callbackProxy = options.callbacks === true ? await startCallbackProxy(() => runners) : undefined
  const secrets = {
    TELEGRAM_BOT_TOKEN: telegram.token,
    KIE_API_KEY: kie.apiKey,
    KIE_CALLBACK_SECRET: `cbs-${randomBytes(16).toString("hex")}`,
    PAYMENTS_SECRET: `pay-${randomBytes(16).toString("hex")}`,
    CLUSTER_SECRET: randomBytes(32).toString("base64")
  }
  const start = async (runnerName: string, env: Record<string, string> = {}) => {
    const httpPort = await freePort()
    const runnerPort = await freePort()
    const bot = startBot({
      HTTP_HOST: "127.0.0.1",
      HTTP_PORT: String(httpPort),
      RUNNER_PORT: String(runnerPort),
      DATABASE_URL: databaseUrl,
      REDIS_URL: options.redisUrl,
      TELEGRAM_BOT_TOKEN: secrets.TELEGRAM_BOT_TOKEN,
      TELEGRAM_API_ROOT: telegram.url,
      TELEGRAM_POLL_TIMEOUT: "1",
      KIE_API_KEY: secrets.KIE_API_KEY,
      KIE_CALLBACK_SECRET: secrets.KIE_CALLBACK_SECRET,
      PAYMENTS_SECRET: secrets.PAYMENTS_SECRET,
      CLUSTER_SECRET: secrets.CLUSTER_SECRET,
      ...(callbackProxy === undefined ? {} : { PUBLIC_URL: callbackProxy.url }),
      KIE_BASE_URL: kie.url,
      KIE_UPLOAD_BASE_URL: kie.url,
      // The simulator does not limit here; the runners' own limiter stays out of the way.
      KIE_RATE_LIMIT: "1000",
      FREE_TOKENS: "2",
      MAX_JOBS_IN_FLIGHT: "5",
      FLOOD_LIMIT_PER_MINUTE: "1000",
      ...TIMINGS,
      ...options.runnerEnv,
      ...env
    })
    const logDir = options.logDir
    if (logDir !== undefined && logDir !== "") {
      mkdirSync(logDir, { recursive: true })
      const file = createWriteStream(`${logDir}/${name}-${runnerName}.log`)
      bot.child.stdout!.on("data", (chunk) => file.write(chunk))
      bot.child.stderr!.on("data", (chunk) => file.write(chunk))
      bot.child.once("exit", () => file.end())
    }
    const runner: Runner = { ...bot, name: runnerName, httpPort, runnerPort }
    runners.push(runner)
    return runner
  }

  const close = async () => {
    for (const runner of runners) runner.child.kill("SIGKILL")
    await Promise.all(runners.map((runner) => runner.child.exitCode === null && runner.child.signalCode === null ? runner.exited : null))
    await db.end().catch(() => undefined)
    await callbackProxy?.close().catch(() => undefined)
    await telegram.stop().catch(() => undefined)
    await kie.close().catch(() => undefined)
    await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`).catch(() => undefined)
    await admin.end().catch(() => undefined)
  }

  return {
    databaseUrl,
    secrets,
    callbackProxy,
    telegram,
    kie,
    runners,
    start,
    query: async (text, values) => (await db.query(text, values)).rows,
    close
  }
}

export const waitReady = async (runner: Runner, timeoutMs = 90_000) => {
  const ok = await waitFor(async () => (await readyz(runner)).status === 200, timeoutMs)
  if (!ok) throw new Error(`${runner.name} never became ready:\n${runner.output().slice(-4000)}`)
}

/** Polls until `check` holds; throws `what` after the timeout. */
export const until = async (what: string, check: () => Promise<boolean> | boolean, timeoutMs: number) => {
  const ok = await waitFor(async () => await check(), timeoutMs)
  if (!ok) throw new Error(`timed out after ${timeoutMs} ms: ${what}`)
}

/** Users 1..n each send /start then `photos` photos; returns the user ids. */
export const sendPhotos = (cluster: TestCluster, firstId: number, users: number, photos: number) => {
  const ids: Array<number> = []
  for (let i = 0; i < users; i++) {
    const id = firstId + i
    ids.push(id)
    const user = cluster.telegram.createUser({ id, first_name: `User${id}`, language_code: "en" })
    for (let p = 0; p < photos; p++) user.sendPhoto(photoBytes, { caption: `scene ${p} of user ${id}` })
  }
  return ids
}

export const TERMINAL = ["delivered", "refunded", "failed"]
