import { describe, expect, it } from "vitest"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import pg from "pg"
import { Redacted } from "effect"
import { withDefaultUser } from "../src/storage/database.js"
import { TEST_DATABASE_URL } from "./support/database.js"
import { freePort, getJson, startBot, waitFor } from "../src/sim/runner-process.js"

const withDataDir = async (body: (dataDir: string) => Promise<void>) => {
  const dir = mkdtempSync(join(tmpdir(), "bot-main-"))
  try {
    await body(dir)
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

const expectReadyThenCleanExit = async (
  env: Record<string, string>,
  mode: RegExp,
  whileReady: (httpPort: number) => Promise<void> = async () => {}
) => {
  const httpPort = await freePort()
  const bot = startBot({ HTTP_HOST: "127.0.0.1", HTTP_PORT: String(httpPort), ...env })
  try {
    const ready = await waitFor(async () => (await getJson(`http://127.0.0.1:${httpPort}/readyz`)).status === 200, 90_000)
    expect(ready, bot.output()).toBe(true)
    expect((await getJson(`http://127.0.0.1:${httpPort}/healthz`)).body).toEqual({ ok: true })
    expect((await getJson(`http://127.0.0.1:${httpPort}/readyz`)).body).toMatchObject({
      ready: true,
      database: "ok",
      holdsShards: true,
      kie: { state: "closed" }
    })
    expect(bot.output()).toMatch(mode)
    await whileReady(httpPort)
    const stoppingAt = Date.now()
    bot.child.kill("SIGTERM")
    expect(await bot.exited).toBe(0)
    expect(Date.now() - stoppingAt).toBeLessThan(10_000)
  } finally {
    bot.child.kill("SIGKILL")
  }
  return bot
}

// Each test starts real processes; on a loaded CI machine start-up can take tens of seconds.
// They are independent (own ports, data directory or database), so they run side by side:
// most of their time is spent waiting for a child process.
describe("npm start", { timeout: 180_000, concurrent: true }, () => {
  it("runs embedded on a SQLite file by default, answers health checks, refuses a second process on its DATA_DIR with a clear message and stops on SIGTERM", () =>
    withDataDir(async (dataDir) => {
      const runnerPort = await freePort()
      await expectReadyThenCleanExit(
        { DATA_DIR: dataDir, RUNNER_PORT: String(runnerPort) },
        /embedded mode: one runner on SQLite file .*bot\.db/,
        async (httpPort) => {
          const second = startBot({ DATA_DIR: dataDir, HTTP_HOST: "127.0.0.1", HTTP_PORT: String(await freePort()), RUNNER_PORT: String(await freePort()) })
          expect(await second.exited).not.toBe(0)
          expect(second.output()).toContain("is in use by another bot process")
          expect(second.output()).toContain("use DATABASE_URL=postgres://… to run several runners")
          expect((await getJson(`http://127.0.0.1:${httpPort}/readyz`)).status).toBe(200)
        }
      )
    }))

  it("runs in cluster mode on Postgres and listens where RUNNER_PORT and HTTP_PORT say, whatever PORT and HOST say", async () => {
    const name = `bot_main_${process.pid}_${Date.now()}`
    const adminUrl = Redacted.value(withDefaultUser(Redacted.make(TEST_DATABASE_URL)))
    const client = new pg.Client({ connectionString: adminUrl })
    await client.connect()
    await client.query(`CREATE DATABASE ${name}`)
    try {
      const url = new URL(adminUrl)
      url.pathname = `/${name}`
      const runnerPort = await freePort()
      const bot = await expectReadyThenCleanExit(
        { DATABASE_URL: url.toString(), RUNNER_PORT: String(runnerPort), PORT: "5555", HOST: "example" },
        new RegExp(`cluster mode: runner 127\\.0\\.0\\.1:${runnerPort} on PostgreSQL`)
      )
      expect(bot.output()).toContain(`Listening on: 127.0.0.1:${runnerPort}`)
      // A sandbox (no bot token) without CLUSTER_SECRET says its runner port key is a published one.
      expect(bot.output()).toContain("CLUSTER_SECRET is not set")
      expect(bot.output()).not.toContain("5555")
    } finally {
      await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)
      await client.end()
    }
  })

  it.each([
    ["FREE_TOKENS", "-1", /FREE_TOKENS must be a whole number/],
    ["DATABASE_URL", "mysql://x", /DATABASE_URL must be a postgres:\/\/ URL/],
    ["HTTP_PORT", "abc", /HTTP_PORT must be a whole number/],
    ["STAR_PACKAGES", "garbage", /STAR_PACKAGES must be a comma-separated list of credits:stars pairs/]
  ])("stops with one line naming %s=%s", async (name, value, message) => {
    const bot = startBot({ [name]: value, DATA_DIR: join(tmpdir(), "bot-never-created") })
    expect(await bot.exited).not.toBe(0)
    const lines = bot.output().trim().split("\n")
    expect(lines).toHaveLength(1)
    expect(lines[0]).toMatch(message)
  })

  it("stops with one line naming KIE_API_KEY when a bot token comes without it, and starts no simulator", async () => {
    // A closed loopback port as the Bot API root: whatever happens, no real Telegram is called.
    const bot = startBot({
      TELEGRAM_BOT_TOKEN: "123456789:AAH-real-looking-token-for-tests-0123456",
      TELEGRAM_API_ROOT: "http://127.0.0.1:9",
      PAYMENTS_SECRET: "payments-secret",
      DATA_DIR: join(tmpdir(), "bot-never-created")
    })
    try {
      const code = await Promise.race([bot.exited, new Promise<"running">((resolve) => setTimeout(() => resolve("running"), 60_000))])
      expect(code, bot.output()).not.toBe("running")
      expect(code).not.toBe(0)
      const lines = bot.output().trim().split("\n")
      expect(lines, bot.output()).toHaveLength(1)
      expect(lines[0]).toMatch(/KIE_API_KEY must be set when TELEGRAM_BOT_TOKEN is set/)
      expect(bot.output()).not.toContain("simulator")
    } finally {
      bot.child.kill("SIGKILL")
    }
  })
})
