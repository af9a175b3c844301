/**
 * The sandbox: with no TELEGRAM_BOT_TOKEN (or no KIE_API_KEY), `npm start` runs the
 * missing service's simulator inside the process and points the configuration at it, so
 * a fresh checkout runs end to end without credentials. With NODE_ENV=production a missing
 * credential is an error instead.
 */
import { ConfigError, Console, Effect, Layer, Option, Redacted } from "effect"
import { mkdirSync, rmSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { AppConfig, type AppSettings, appSettings } from "../config.js"
import { kieSimulator } from "./kie/index.js"
import { makeTelegramSimulator } from "./telegram/index.js"

const banner = (lines: ReadonlyArray<string>) => {
  const width = Math.max(...lines.map((line) => line.length)) + 4
  const rule = "#".repeat(width)
  return [rule, ...lines.map((line) => `# ${line.padEnd(width - 4)} #`), rule].join("\n")
}

/**
 * The runner port's secret in a sandbox on Postgres with no CLUSTER_SECRET: the same in every
 * sandbox runner, so several of them on one database still form a cluster. It is published
 * here, so it keeps out nothing; it protects only simulated users' credits. With a real
 * bot token src/config.ts requires CLUSTER_SECRET instead.
 */
export const SANDBOX_CLUSTER_SECRET = Redacted.make("sandbox-only-cluster-secret-published-in-the-source")

const withSimulators = (settings: AppSettings) =>
  Effect.gen(function*() {
    const notes: Array<string> = ["SANDBOX: simulated services, no real Telegram or KIE is called."]
    let result = settings
    if (Option.isNone(settings.telegram.botToken)) {
      const telegram = yield* makeTelegramSimulator({ host: "127.0.0.1" })
      result = {
        ...result,
        telegram: { ...result.telegram, botToken: Option.some(Redacted.make(telegram.token)), apiRoot: telegram.url }
      }
      notes.push(
        `Telegram Bot API simulator: ${telegram.url}`,
        `  create a user:  curl -XPOST ${telegram.url}/sim/users -d '{"id":1001,"first_name":"Ann"}'`,
        `  send a photo:   curl -XPOST ${telegram.url}/sim/users/1001/photo -d '{"base64":"<jpeg>","caption":"waves"}'`,
        `  read the chat:  curl ${telegram.url}/sim/users/1001/messages`,
        `  or, as user 1001 from another terminal:`,
        `    npm run sandbox -- photo path/to.jpg "the waves roll in"`,
        `    npm run sandbox -- press "Generate again"  |  balance  |  messages  |  text /help`
      )
      // Lets `npm run sandbox` (src/sim/sandbox-cli.ts) find this simulator.
      if (settings.database._tag === "Sqlite") {
        const file = join(settings.database.dataDir, "sandbox.json")
        mkdirSync(settings.database.dataDir, { recursive: true })
        writeFileSync(file, JSON.stringify({ telegramUrl: telegram.url, pid: process.pid }, null, 2))
        yield* Effect.addFinalizer(() => Effect.sync(() => rmSync(file, { force: true })))
      }
    }
    if (Option.isNone(settings.kie.apiKey)) {
      const kie = yield* kieSimulator({ host: "127.0.0.1", clock: "real", phases: { generatingMs: 10_000 } })
      result = {
        ...result,
        kie: { ...result.kie, apiKey: Option.some(Redacted.make(kie.apiKey)), baseUrl: kie.url, uploadBaseUrl: kie.url }
      }
      notes.push(`KIE simulator: ${kie.url} (videos take about 12 s)`)
    }
    if (settings.database._tag === "Postgres" && Option.isNone(settings.clusterSecret)) {
      result = { ...result, clusterSecret: Option.some(SANDBOX_CLUSTER_SECRET) }
      notes.push(
        "CLUSTER_SECRET is not set: the runner port uses the sandbox's published secret, so",
        "anything that reaches RUNNER_PORT can command this runner. Keep RUNNER_HOST on loopback."
      )
      yield* Effect.logWarning("CLUSTER_SECRET is not set: the sandbox's runner port uses a published secret")
    }
    notes.push("Set TELEGRAM_BOT_TOKEN and KIE_API_KEY to run for real.")
    yield* Console.log(banner(notes))
    return result
  })

/** AppConfig from the environment, completed by the simulators where credentials are missing. */
export const AppConfigWithSandbox = Layer.scoped(
  AppConfig,
  Effect.gen(function*() {
    const settings = yield* appSettings
    const missing = Option.isNone(settings.telegram.botToken) || Option.isNone(settings.kie.apiKey)
    if (!missing) return settings
    if (settings.nodeEnv === "production") {
      return yield* Effect.fail(
        ConfigError.MissingData([], "TELEGRAM_BOT_TOKEN and KIE_API_KEY must be set when NODE_ENV=production")
      )
    }
    return yield* withSimulators(settings)
  })
)
