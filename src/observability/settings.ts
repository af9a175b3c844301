/**
 * The operators' settings: LOG_LEVEL and DASHBOARD_TOKEN, validated like the rest of
 * src/config.ts (which reads them into AppSettings). The logger reads them on its own,
 * because it is provided around everything else, AppConfig included.
 */
import { Config, ConfigError, Either, LogLevel, Option, Redacted } from "effect"

export interface ObservabilitySettings {
  readonly nodeEnv: "development" | "production" | "test"
  readonly logLevel: LogLevel.LogLevel
  /** Admins' token for GET /dashboard; unset: the dashboard answers 404. */
  readonly dashboardToken: Option.Option<Redacted.Redacted<string>>
}

const levels = {
  all: "All",
  trace: "Trace",
  debug: "Debug",
  info: "Info",
  warning: "Warning",
  error: "Error",
  fatal: "Fatal",
  none: "None"
} as const satisfies Record<string, LogLevel.Literal>

export const logLevelConfig = Config.string("LOG_LEVEL").pipe(
  Config.withDefault("info"),
  Config.mapOrFail((raw) => {
    const key = raw.trim().toLowerCase()
    return key in levels
      ? Either.right(LogLevel.fromLiteral(levels[key as keyof typeof levels]))
      : Either.left(
        ConfigError.InvalidData([], `LOG_LEVEL must be one of ${Object.keys(levels).join(", ")}, got "${raw}"`)
      )
  })
)

export const dashboardTokenConfig = Config.option(Config.redacted("DASHBOARD_TOKEN")).pipe(
  Config.map(Option.filter((value) => Redacted.value(value).trim() !== "")),
  Config.mapOrFail((token) =>
    Option.isSome(token) && Redacted.value(token.value).length < 16
      ? Either.left(ConfigError.InvalidData([], "DASHBOARD_TOKEN must be at least 16 characters"))
      : Either.right(token)
  )
)

const nodeEnv = Config.literal("development", "production", "test")("NODE_ENV").pipe(Config.withDefault("development"))

export const observabilitySettings: Config.Config<ObservabilitySettings> = Config.all({
  nodeEnv,
  logLevel: logLevelConfig,
  dashboardToken: dashboardTokenConfig
})
