/**
 * What the real process (`src/main.ts`) prints when Telegram is unreachable or refuses a
 * call, the database refuses a write and Redis goes away: no secret's value, in production
 * (where every line of stdout and stderr is also one JSON object) and in development.
 * One process per mode, each taken through several faults:
 * - production, polling, Postgres and Redis with passwords: deleteWebhook and getUpdates
 *   refused (Telegram's port closed), then getUpdates, getMe and sendMessage reset; a user
 *   whose first write the database refuses; a Node warning; Redis killed; an uncaught
 *   exception that ends the process;
 * - development, webhook, SQLite: setWebhook and getMe refused, then setWebhook answered
 *   400 (its payload holds secret_token), getMe and sendMessage reset; the refused write;
 *   sendMessage refused.
 * The bot calls deleteWebhook and getMe once per process, so a process shows each of them
 * the faults it meets before the call succeeds.
 */
import { SqlClient } from "@effect/sql"
import { Effect, Layer, Redacted } from "effect"
import { type ChildProcess, spawn } from "node:child_process"
import { mkdtempSync, rmSync } from "node:fs"
import { connect, createServer, type Server, type Socket } from "node:net"
import { tmpdir } from "node:os"
import { join } from "node:path"
import pg from "pg"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { AppConfig } from "../../src/config/index.js"
import { startKieSimulator, type KieSimulator } from "../../src/sim/kie/index.js"
import { TelegramSimulator } from "../../src/sim/telegram/index.js"
import { DatabaseLive, withDefaultUser } from "../../src/storage/database.js"
import { configLayer, TEST_DATABASE_URL } from "../support/database.js"
import { freePort, getJson, startBot, type StartedBot, waitFor } from "../../src/sim/runner-process.js"

const fixedSecrets = {
  TELEGRAM_WEBHOOK_SECRET: "webhook-secret_4c2d9e",
  KIE_CALLBACK_SECRET: "callback-secret-7d1e0b",
  KIE_WEBHOOK_HMAC_KEY: "kie-hmac-key-51f7aa",
  PAYMENTS_SECRET: "payments-secret-c88e21",
  DASHBOARD_TOKEN: "dashboard-token-3b9f6d4e",
  CLUSTER_SECRET: "cluster-secret-5e0a91-of-at-least-32-chars"
}
const REDIS_PASSWORD = "redis-password-9a41c7"
const REFUSED_USER = 666
const warningFixture = join(import.meta.dirname, "fixtures", "warn-on-signal.mjs")

/**
 * A loopback port in front of the simulator: closed, a connection is refused; open, it is
 * forwarded. Closing also cuts the connections the bot keeps alive.
 */
const makeGate = async (targetPort: number) => {
  const port = await freePort()
  const sockets = new Set<Socket>()
  let server: Server | undefined
  return {
    url: `http://127.0.0.1:${port}`,
    open: () =>
      new Promise<void>((resolve) => {
        server = createServer((client) => {
          const upstream = connect(targetPort, "127.0.0.1")
          const drop = () => {
            client.destroy()
            upstream.destroy()
            sockets.delete(client)
            sockets.delete(upstream)
          }
          for (const socket of [client, upstream]) {
            sockets.add(socket)
            socket.on("error", drop).on("close", drop)
          }
          client.pipe(upstream).pipe(client)
        })
        server.listen(port, "127.0.0.1", () => resolve())
      }),
    close: () =>
      new Promise<void>((resolve) => {
        if (server === undefined) return resolve()
        server.close(() => resolve())
        for (const socket of sockets) socket.destroy()
        server = undefined
      })
  }
}

const portOf = (url: string) => Number(new URL(url).port)

const startRedis = async (password: string) => {
  const port = await freePort()
  const server = spawn("redis-server", [
    "--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--requirepass", password
  ], { stdio: "ignore" })
  const listening = () =>
    new Promise<boolean>((resolve) => {
      const probe = connect(port, "127.0.0.1", () => resolve(probe.destroy() !== undefined))
      probe.on("error", () => resolve(false))
    })
  expect(await waitFor(listening, 10_000)).toBe(true)
  return { url: `redis://:${password}@127.0.0.1:${port}`, server }
}

const stop = async (process: ChildProcess, exited: Promise<unknown>) => {
  process.kill("SIGTERM")
  const timer = setTimeout(() => process.kill("SIGKILL"), 8_000)
  await exited
  clearTimeout(timer)
}

const printedOnce = (bot: StartedBot, pattern: RegExp, timeoutMs = 30_000) =>
  waitFor(async () => pattern.test(bot.output()), timeoutMs)

/** Fails with the output when `pattern` was never printed. */
const expectPrinted = async (bot: StartedBot, pattern: RegExp, timeoutMs?: number) =>
  expect(await printedOnce(bot, pattern, timeoutMs), `never printed ${pattern}:\n${bot.output()}`).toBe(true)

const expectNoSecret = (output: string, secrets: ReadonlyArray<string>) => {
  for (const secret of secrets) expect(output.includes(secret), `${secret} printed:\n${output}`).toBe(false)
}

const ready = (httpPort: number) => async () => (await getJson(`http://127.0.0.1:${httpPort}/readyz`)).status === 200

let kie: KieSimulator

beforeAll(async () => {
  kie = await startKieSimulator({ clock: "real" })
})
afterAll(async () => {
  await kie.close()
})

const commonEnv = async (telegram: TelegramSimulator) => ({
  HTTP_HOST: "127.0.0.1",
  HTTP_PORT: String(await freePort()),
  RUNNER_PORT: String(await freePort()),
  TELEGRAM_BOT_TOKEN: telegram.token,
  KIE_API_KEY: kie.apiKey,
  KIE_BASE_URL: kie.url,
  KIE_UPLOAD_BASE_URL: kie.url,
  LOG_LEVEL: "debug",
  ...fixedSecrets
})

const secretsOf = (telegram: TelegramSimulator, extra: ReadonlyArray<string>) => [
  telegram.token,
  telegram.token.split(":")[1]!,
  kie.apiKey,
  ...Object.values(fixedSecrets),
  ...extra
]

// Two independent processes, each mostly waiting on its faults: side by side.
describe("what the process prints", { timeout: 120_000, concurrent: true }, () => {
  it("in production: no secret, and every line of stdout and stderr is one JSON object", async () => {
    const telegram = await new TelegramSimulator().start()
    const gate = await makeGate(portOf(telegram.url))
    const redis = await startRedis(REDIS_PASSWORD)
    const admin = new pg.Client({ connectionString: Redacted.value(withDefaultUser(Redacted.make(TEST_DATABASE_URL))) })
    await admin.connect()
    const database = `bot_output_${process.pid}_${Date.now()}`
    await admin.query(`CREATE DATABASE ${database}`)
    // The test server trusts loopback, so any password is accepted; it still has to stay unprinted.
    const databaseUrl = new URL(Redacted.value(withDefaultUser(Redacted.make(TEST_DATABASE_URL))))
    databaseUrl.pathname = `/${database}`
    if (databaseUrl.password === "") databaseUrl.password = "db-password-e5a0f2"
    let bot: StartedBot | undefined
    try {
      const env = await commonEnv(telegram)
      bot = startBot({
        ...env,
        NODE_ENV: "production",
        NODE_OPTIONS: `--import ${warningFixture}`,
        TELEGRAM_API_ROOT: gate.url,
        TELEGRAM_POLL_TIMEOUT: "1",
        DATABASE_URL: databaseUrl.toString(),
        REDIS_URL: redis.url
      })
      expect(await waitFor(ready(Number(env.HTTP_PORT)), 60_000), bot.output()).toBe(true)
      const db = new pg.Client({ connectionString: databaseUrl.toString() })
      await db.connect()
      await db.query(`CREATE FUNCTION refuse_user() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN IF NEW.id = ${REFUSED_USER} THEN RAISE EXCEPTION 'writes refused by the test'; END IF; RETURN NEW; END $$`)
      await db.query(`CREATE TRIGGER refuse_user BEFORE INSERT OR UPDATE ON users FOR EACH ROW EXECUTE FUNCTION refuse_user()`)
      await db.end()
      await expectPrinted(bot, /deleteWebhook failed.*ECONNREFUSED/)
      await expectPrinted(bot, /polling round failed.*ECONNREFUSED/)

      telegram.createUser({ id: 1001, first_name: "Ann", language_code: "en" }).sendCommand("start")
      telegram.createUser({ id: REFUSED_USER, first_name: "Rex", language_code: "en" }).sendCommand("start")
      for (const method of ["getUpdates", "getMe", "sendMessage"]) telegram.injectFault({ kind: "reset", method, times: 1 })
      await gate.open()
      await expectPrinted(bot, /polling round failed.*socket hang up/)
      await expectPrinted(bot, /getMe failed.*socket hang up/)
      expect(await waitFor(async () => telegram.sentMessages(1001).length > 0, 30_000), bot.output()).toBe(true)
      await expectPrinted(bot, /writes refused by the test/)

      bot.child.kill("SIGUSR2")
      await expectPrinted(bot, /DeprecationWarning: Calling client\.query\(\)/)
      redis.server.kill("SIGKILL")
      await expectPrinted(bot, /Redis failed .*this runner limits itself locally/)
      bot.child.kill("SIGUSR2")
      expect(await bot.exited, "an uncaught exception ends the process as Node would").toBe(1)

      const output = bot.output()
      expectNoSecret(output, secretsOf(telegram, [REDIS_PASSWORD, databaseUrl.password]))
      const lines = output.split("\n").filter((line) => line !== "")
      const events = lines.map((line) => {
        try {
          return JSON.parse(line) as { message: unknown; logLevel: string; annotations: Record<string, unknown>; cause?: string }
        } catch {
          return expect.fail(`not a JSON line: ${line}`)
        }
      })
      const withMessage = (text: string) => events.filter((event) => JSON.stringify(event.message).includes(text))
      expect(withMessage("Telegram poller started on this runner")).toHaveLength(1)
      expect(withMessage("Telegram call failed").some((event) => event.annotations.method === "sendMessage")).toBe(true)
      expect(withMessage("DeprecationWarning")[0]).toMatchObject({ logLevel: "WARN", annotations: { code: "TEST_PG_DEPRECATION" } })
      expect(withMessage("[ioredis]")).toHaveLength(0)
      expect(withMessage("this runner limits itself locally")).toHaveLength(1)
      expect(withMessage("uncaught exception")[0]).toMatchObject({ logLevel: "FATAL", cause: expect.stringContaining("<redacted>") })
    } finally {
      if (bot !== undefined && bot.child.exitCode === null) await stop(bot.child, bot.exited)
      redis.server.kill("SIGKILL")
      await gate.close()
      await telegram.stop()
      await admin.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`)
      await admin.end()
    }
  })

  it("in development: no secret", async () => {
    const telegram = await new TelegramSimulator().start()
    const gate = await makeGate(portOf(telegram.url))
    const dataDir = mkdtempSync(join(tmpdir(), "bot-output-"))
    let bot: StartedBot | undefined
    try {
      // The schema first, with a trigger that refuses one user's rows; the bot then opens the file.
      await Effect.gen(function*() {
        const sql = yield* SqlClient.SqlClient
        yield* sql.unsafe(`CREATE TRIGGER refuse_user BEFORE INSERT ON users WHEN NEW.id = ${REFUSED_USER}
          BEGIN SELECT RAISE(ABORT, 'writes refused by the test'); END`)
      }).pipe(
        Effect.provide(DatabaseLive.pipe(Layer.provide(Layer.unwrapEffect(Effect.map(AppConfig.fromEnv({ DATA_DIR: dataDir }), configLayer))))),
        Effect.runPromise
      )
      const env = await commonEnv(telegram)
      bot = startBot({
        ...env,
        DATA_DIR: dataDir,
        TELEGRAM_API_ROOT: gate.url,
        TELEGRAM_MODE: "webhook",
        PUBLIC_URL: `http://127.0.0.1:${env.HTTP_PORT}`
      })
      expect(await waitFor(ready(Number(env.HTTP_PORT)), 60_000), bot.output()).toBe(true)
      await expectPrinted(bot, /setWebhook failed[^]*ECONNREFUSED/)

      // Before the webhook is set, an update posted as Telegram would: getMe is refused.
      const ann = telegram.createUser({ id: 1001, first_name: "Ann", language_code: "en" })
      const start = ann.sendCommand("start").update
      const posted = await fetch(`http://127.0.0.1:${env.HTTP_PORT}/telegram/webhook`, {
        method: "POST",
        headers: { "content-type": "application/json", "x-telegram-bot-api-secret-token": fixedSecrets.TELEGRAM_WEBHOOK_SECRET },
        body: JSON.stringify(start)
      })
      expect(posted.status).toBe(200)
      await expectPrinted(bot, /getMe failed[^]*ECONNREFUSED/)

      telegram.injectFault({ kind: "error", code: 400, description: "Bad Request: bad webhook", method: "setWebhook", times: 1 })
      for (const method of ["getMe", "sendMessage"]) telegram.injectFault({ kind: "reset", method, times: 1 })
      await gate.open()
      await expectPrinted(bot, /setWebhook failed[^]*400: Bad Request: bad webhook/)
      await expectPrinted(bot, /Telegram webhook set to/)
      await expectPrinted(bot, /getMe failed[^]*socket hang up/)
      expect(await waitFor(async () => telegram.sentMessages(1001).length > 0, 30_000), bot.output()).toBe(true)

      telegram.createUser({ id: REFUSED_USER, first_name: "Rex", language_code: "en" }).sendCommand("start")
      await expectPrinted(bot, /writes refused by the test/)

      await gate.close()
      ann.sendCommand("help")
      await expectPrinted(bot, /could not reply[^]*sendMessage: Network \(ECONNREFUSED\)/)
      await stop(bot.child, bot.exited)

      expectNoSecret(bot.output(), secretsOf(telegram, []))
    } finally {
      if (bot !== undefined && bot.child.exitCode === null) await stop(bot.child, bot.exited)
      await gate.close()
      await telegram.stop()
      rmSync(dataDir, { recursive: true, force: true })
    }
  })
})
