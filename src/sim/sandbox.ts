/**
 * The sandbox: with neither TELEGRAM_BOT_TOKEN nor KIE_API_KEY, `npm start` runs both
 * simulators inside the process and points the configuration at them, so a fresh checkout
 * runs end to end without credentials. Never half of it: one credential without the other
 * is refused by the configuration (src/config/), so real users never meet a simulator.
 * With NODE_ENV=production the sandbox is an error instead.
 */
import { ConfigError, Console, Effect, Layer, Option, Redacted } from "effect"
import { mkdirSync, rmSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { AppConfig, type AppSettings, appSettings } from "../config/index.js"
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
 * bot token src/config/ requires CLUSTER_SECRET instead.
 */
export const SANDBOX_CLUSTER_SECRET = Redacted.make("sandbox-only-cluster-secret-published-in-the-source")

/** The sandbox's admin when ADMIN_IDS is unset: support requests and alerts reach this user. */
export const SANDBOX_ADMIN_ID = 1000

const withSimulators = (settings: AppSettings) =>
  Effect.gen(function*() {
    const telegram = yield* makeTelegramSimulator({ host: "127.0.0.1" })
    const adminIds = settings.adminIds.length > 0 ? settings.adminIds : [SANDBOX_ADMIN_ID]
    // The admins' chats exist from the start, so relayed support requests have somewhere to go.
    for (const id of adminIds) telegram.createUser({ id, first_name: "Admin", language_code: "en" })
    const kie = yield* kieSimulator({ host: "127.0.0.1", clock: "real", phases: { generatingMs: 10_000 } })
    // Lets `npm run sandbox` (src/sim/sandbox-cli.ts) find this simulator.
    if (settings.database._tag === "Sqlite") {
      const file = join(settings.database.dataDir, "sandbox.json")
      mkdirSync(settings.database.dataDir, { recursive: true })
      // The bot's own HTTP port too: the CLI reads its /metrics to know when jobs are done.
      const botHost = ["0.0.0.0", "::", ""].includes(settings.httpHost) ? "127.0.0.1" : settings.httpHost
      const botUrl = `http://${botHost.includes(":") ? `[${botHost}]` : botHost}:${settings.httpPort}`
      writeFileSync(file, JSON.stringify({ telegramUrl: telegram.url, botUrl, pid: process.pid }, null, 2))
      yield* Effect.addFinalizer(() => Effect.sync(() => rmSync(file, { force: true })))
    }
    const notes = [
      "SANDBOX: simulated services, no real Telegram or KIE is called.",
      `Telegram Bot API simulator: ${telegram.url}`,
      `  create a user:  curl -XPOST ${telegram.url}/sim/users -d '{"id":1001,"first_name":"Ann"}'`,
      `  send a photo:   curl -XPOST ${telegram.url}/sim/users/1001/photo -d '{"base64":"<jpeg>","caption":"waves"}'`,
      `  read the chat:  curl ${telegram.url}/sim/users/1001/messages`,
      `  or, as user 1001 from another terminal (npm run sandbox alone lists every action):`,
      `    npm run sandbox -- photo path/to.jpg "the waves roll in"`,
      `    npm run sandbox -- /buy  |  press "5 credits"  |  pay  |  --lang ru /start  |  messages  |  menu`,
      `  support: npm run sandbox -- /paysupport, then: npm run sandbox -- text "what happened"`,
      `    the admin (user ${adminIds[0]}) answers: npm run sandbox -- --user ${adminIds[0]} reply <#id> "the answer"`,
      `KIE simulator: ${kie.url} (videos take about 12 s)`
    ]
    const unauthenticatedCluster = settings.database._tag === "Postgres" && Option.isNone(settings.clusterSecret)
    if (unauthenticatedCluster) {
      notes.push(
        "CLUSTER_SECRET is not set: the runner port uses the sandbox's published secret, so",
        "anything that reaches RUNNER_PORT can command this runner. Keep RUNNER_HOST on loopback."
      )
      yield* Effect.logWarning("CLUSTER_SECRET is not set: the sandbox's runner port uses a published secret")
    }
    notes.push("Set TELEGRAM_BOT_TOKEN, KIE_API_KEY and PAYMENTS_SECRET to run for real.")
    yield* Console.log(banner(notes))
    return {
      ...settings,
      adminIds,
      telegram: { ...settings.telegram, botToken: Option.some(Redacted.make(telegram.token)), apiRoot: telegram.url },
      kie: { ...settings.kie, apiKey: Option.some(Redacted.make(kie.apiKey)), baseUrl: kie.url, uploadBaseUrl: kie.url },
      ...(unauthenticatedCluster ? { clusterSecret: Option.some(SANDBOX_CLUSTER_SECRET) } : {})
    } satisfies AppSettings
  })

/** AppConfig from the environment, or the sandbox's when neither credential is set. */
export const AppConfigWithSandbox = Layer.scoped(
  AppConfig,
  Effect.gen(function*() {
    // Exactly one credential never gets here: appSettings refuses it, naming the other.
    const settings = yield* appSettings
    if (Option.isSome(settings.telegram.botToken) && Option.isSome(settings.kie.apiKey)) return settings
    if (settings.nodeEnv === "production") {
      return yield* Effect.fail(
        ConfigError.MissingData([], "TELEGRAM_BOT_TOKEN and KIE_API_KEY must be set when NODE_ENV=production")
      )
    }
    return yield* withSimulators(settings)
  })
)
