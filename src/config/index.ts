/**
 * Every environment variable the bot reads, combined from the feature modules beside this
 * one, with the rules that span several of them. Nothing else in `src` reads
 * `process.env`: services take `AppConfig`.
 */
import { Config, ConfigError, ConfigProvider, Context, Effect, Either, Layer, Option } from "effect"
import { adminIds, botLimits } from "./bot.js"
import { clusterSecret, clusterSecretRequired, clusterTimings, runnerHost, runnerPort } from "./cluster.js"
import { databaseSettings, redisUrl } from "./database.js"
import { referralSettings } from "./growth.js"
import { httpHost, httpPort, publicUrl } from "./http.js"
import { jobTimings, maxConcurrentTransfers } from "./jobs.js"
import { kieSettings } from "./kie.js"
import { dashboardToken, logLevel, nodeEnv } from "./observability.js"
import { freeTokens, paymentsSettings, starPackages } from "./payments.js"
import { retentionSettings } from "./retention.js"
import { telegramSettings } from "./telegram.js"

export { clusterSecretRequired } from "./cluster.js"
export type { DatabaseSettings } from "./database.js"
export type { ReferralTrigger } from "./growth.js"
export type { StarPackage } from "./payments.js"
export type { RetentionSettings } from "./retention.js"

// The order of the fields is the order in which their problems are reported.
const fields = Config.all({
  nodeEnv,
  telegram: telegramSettings,
  kie: kieSettings,
  publicUrl,
  database: databaseSettings,
  redisUrl,
  httpHost,
  httpPort,
  runnerHost,
  runnerPort,
  maxConcurrentTransfers,
  clusterSecret,
  cluster: clusterTimings,
  retention: retentionSettings,
  adminIds,
  freeTokens,
  starPackages,
  bot: botLimits,
  payments: paymentsSettings,
  referral: referralSettings,
  logLevel,
  dashboardToken,
  jobs: jobTimings
})

type Fields = Config.Config.Success<typeof fields>

const deploymentProblem = (settings: Fields): ConfigError.ConfigError | undefined => {
  if (settings.telegram.mode === "webhook" && Option.isNone(settings.telegram.webhookSecret)) {
    return ConfigError.InvalidData([], "TELEGRAM_WEBHOOK_SECRET must be set when TELEGRAM_MODE=webhook")
  }
  if (settings.telegram.mode === "webhook" && Option.isNone(settings.publicUrl)) {
    return ConfigError.InvalidData([], "PUBLIC_URL must be set when TELEGRAM_MODE=webhook")
  }
  const realCluster = settings.database._tag === "Postgres" && Option.isSome(settings.telegram.botToken)
  if (realCluster && Option.isNone(settings.clusterSecret)) return ConfigError.MissingData([], clusterSecretRequired)
  return undefined
}

/**
 * The sandbox is all or nothing: a real bot token beside the KIE simulator would sell
 * simulated videos for real Stars, and a real KIE key beside the Telegram simulator would
 * spend real KIE credits on nobody. A real token also takes real payments, whose invoices
 * every runner must sign with the same key.
 */
const credentialProblems = (settings: Fields): ReadonlyArray<string> => {
  const hasToken = Option.isSome(settings.telegram.botToken)
  const hasKey = Option.isSome(settings.kie.apiKey)
  const sandbox = "the sandbox runs only when neither TELEGRAM_BOT_TOKEN nor KIE_API_KEY is set"
  return [
    hasToken && !hasKey ? `KIE_API_KEY must be set when TELEGRAM_BOT_TOKEN is set (${sandbox})` : undefined,
    hasKey && !hasToken ? `TELEGRAM_BOT_TOKEN must be set when KIE_API_KEY is set (${sandbox})` : undefined,
    hasToken && Option.isNone(settings.payments.secret)
      ? "PAYMENTS_SECRET must be set when TELEGRAM_BOT_TOKEN is set (it signs invoice payloads; the same on every runner)"
      : undefined
  ].filter((problem) => problem !== undefined)
}

export const appSettings = fields.pipe(
  Config.mapOrFail((settings) => {
    const problem = deploymentProblem(settings)
    return problem === undefined ? Either.right(settings) : Either.left(problem)
  }),
  Config.mapOrFail((settings) => {
    const problems = credentialProblems(settings)
    return problems.length === 0
      ? Either.right(settings)
      : Either.left(problems.map((problem) => ConfigError.MissingData([], problem)).reduce(ConfigError.And))
  })
)

export type AppSettings = Config.Config.Success<typeof appSettings>

/** The resolved configuration, read once at start-up. */
export class AppConfig extends Context.Tag("app/AppConfig")<AppConfig, AppSettings>() {
  static readonly layer = Layer.effect(AppConfig, appSettings)
  /** The settings that `env` alone would give, ignoring the process environment. */
  static readonly fromEnv = (env: Record<string, string>) =>
    appSettings.pipe(Effect.withConfigProvider(ConfigProvider.fromMap(new Map(Object.entries(env)))))
}

/** One line per problem, naming the variable; used by the composition root at start-up. */
export const describeConfigError = (error: ConfigError.ConfigError): string => {
  const lines: Array<string> = []
  const walk = (e: ConfigError.ConfigError): void => {
    switch (e._op) {
      case "And":
        walk(e.left)
        walk(e.right)
        return
      case "Or":
        // Both branches describe the same variable; the left one is the intended reading.
        walk(e.left)
        return
      default: {
        const path = e.path.join(".")
        const text = e.message.includes(path) || path === "" ? e.message : `${path}: ${e.message}`
        if (!lines.includes(text)) lines.push(text)
      }
    }
  }
  walk(error)
  return `Invalid configuration: ${lines.join("; ")}`
}
