/**
 * Every environment variable the bot reads, in one place (the design's configuration
 * contract). Nothing else in `src` reads `process.env`: services take `AppConfig`.
 */
import { findModel, modelSlugs } from "./kie/models.js"
import { defaultResultHosts } from "./kie/result-url.js"
import { Config, ConfigError, ConfigProvider, Context, Effect, Either, Layer, type LogLevel, Option, Redacted } from "effect"
import { dashboardTokenConfig, logLevelConfig } from "./observability/settings.js"

export interface StarPackage {
  readonly credits: number
  readonly stars: number
}

export type DatabaseSettings =
  | { readonly _tag: "Sqlite"; readonly dataDir: string; readonly filename: string }
  | { readonly _tag: "Postgres"; readonly url: Redacted.Redacted<string> }

export interface AppSettings {
  readonly nodeEnv: "development" | "production" | "test"
  readonly telegram: {
    readonly botToken: Option.Option<Redacted.Redacted<string>>
    readonly apiRoot: string
    readonly mode: "polling" | "webhook"
    readonly webhookSecret: Option.Option<Redacted.Redacted<string>>
  }
  readonly kie: {
    readonly apiKey: Option.Option<Redacted.Redacted<string>>
    readonly baseUrl: string
    readonly uploadBaseUrl: string
    readonly webhookHmacKey: Option.Option<Redacted.Redacted<string>>
    readonly model: string
    /** KIE's createTask limit for the whole account, per 10 seconds (KIE_RATE_LIMIT). */
    readonly rateLimit: number
    /** Signs the per-job token in callback URLs; shared by all runners (KIE_CALLBACK_SECRET). */
    readonly callbackSecret: Option.Option<Redacted.Redacted<string>>
    /** Hosts (and their subdomains) whose https result URLs may be fetched (KIE_RESULT_HOSTS). */
    readonly resultHosts: ReadonlyArray<string>
  }
  readonly publicUrl: Option.Option<string>
  readonly database: DatabaseSettings
  readonly redisUrl: Option.Option<Redacted.Redacted<string>>
  readonly httpHost: string
  readonly httpPort: number
  readonly runnerHost: string
  readonly runnerPort: number
  /** Photos and videos this runner holds in memory at once (MAX_CONCURRENT_TRANSFERS; src/jobs/transfer-permits.ts). */
  readonly maxConcurrentTransfers: number
  /**
   * Authenticates runner-to-runner traffic; the same on every runner (CLUSTER_SECRET).
   * Required in cluster mode with a bot token; src/sim/sandbox.ts fills in its own without.
   */
  readonly clusterSecret: Option.Option<Redacted.Redacted<string>>
  /** Failover and shutdown timings of this runner (see docs/operations.md). */
  readonly cluster: ClusterTimings
  /** How long processed cluster messages and job events are kept (src/storage/retention.ts). */
  readonly retention: RetentionSettings
  readonly adminIds: ReadonlyArray<number>
  readonly freeTokens: number
  readonly starPackages: ReadonlyArray<StarPackage>
  readonly bot: {
    /** Jobs one user may have unfinished at once (MAX_JOBS_IN_FLIGHT). */
    readonly maxJobsInFlight: number
    /** Messages and button presses one user may send per minute (FLOOD_LIMIT_PER_MINUTE). */
    readonly floodLimitPerMinute: number
    /** Long-polling timeout of getUpdates, in seconds (TELEGRAM_POLL_TIMEOUT). */
    readonly pollTimeoutSeconds: number
  }
  readonly payments: {
    /** Signs invoice payloads; the same on every runner (PAYMENTS_SECRET). */
    readonly secret: Option.Option<Redacted.Redacted<string>>
  }
  /** Minimum level of log lines (LOG_LEVEL, default info). */
  readonly logLevel: LogLevel.LogLevel
  /** Admins' token for GET /dashboard (DASHBOARD_TOKEN); unset: no dashboard. */
  readonly dashboardToken: Option.Option<Redacted.Redacted<string>>
  readonly jobs: JobTimings
}

/** How long jobs may take and how stalled ones are found again; durations in milliseconds. */
export interface JobTimings {
  /** Overrides every model's generation deadline (KIE_TASK_DEADLINE); unset: the model's own. */
  readonly taskDeadlineMs: Option.Option<number>
  /** How often one runner looks for unfinished jobs that nothing is driving (JOB_WATCHDOG_INTERVAL). */
  readonly watchdogIntervalMs: number
  /**
   * The first wait before a transient KIE failure is retried, doubling up to 12 times it
   * (KIE_RETRY_BASE, 10 s: one of KIE's 10-second rate windows; shorter only for tests or
   * an account whose limit KIE has raised).
   */
  readonly kieRetryBaseMs: number
  /** An unfinished job whose row has not changed for this long is woken (JOB_STALE_AFTER). */
  readonly staleAfterMs: number
}

/** Durations in milliseconds. Money rows (credit_ledger, payments, jobs) are never pruned. */
export interface RetentionSettings {
  /** Processed cluster messages and their replies older than this are deleted (RETENTION_AGE). */
  readonly messageAgeMs: number
  /** job_events of finished jobs older than this are deleted; none: kept forever (JOB_EVENTS_RETENTION). */
  readonly jobEventsAgeMs: Option.Option<number>
  /** How often one runner prunes (RETENTION_INTERVAL). */
  readonly intervalMs: number
}

/** Durations in milliseconds; the same on every runner of a cluster. */
export interface ClusterTimings {
  /** How often a runner heartbeats and refreshes its shard locks (SHARD_LOCK_REFRESH). */
  readonly shardLockRefreshMs: number
  /** A runner silent this long is dead; its shards move (SHARD_LOCK_EXPIRATION). */
  readonly shardLockExpirationMs: number
  /** How often the runners ping each other; a failed ping moves shards sooner (RUNNER_HEALTH_CHECK_INTERVAL). */
  readonly healthCheckIntervalMs: number
  /** How long shutdown waits for running handlers before interrupting them (ENTITY_TERMINATION_TIMEOUT). */
  readonly entityTerminationTimeoutMs: number
  /**
   * After SIGTERM, how long /readyz answers 503 before the runner hands its shards over
   * (DRAIN_GRACE; unset: 1 s in cluster mode, none in embedded mode).
   */
  readonly drainGraceMs: Option.Option<number>
}

// Refinements that turn a bad value into a ConfigError naming the variable and what is
// expected; `describeConfigError` prints it as a single line at start-up.
const invalid = (name: string, expected: string, got: string) =>
  ConfigError.InvalidData([], `${name} must be ${expected}, got "${got}"`)

const integerIn = (name: string, min: number, max: number, fallback: number) =>
  Config.string(name).pipe(
    Config.withDefault(String(fallback)),
    Config.mapOrFail((raw) => {
      const trimmed = raw.trim()
      const value = Number(trimmed)
      return /^-?\d+$/.test(trimmed) && value >= min && value <= max
        ? Either.right(value)
        : Either.left(invalid(name, `a whole number from ${min} to ${max}`, raw))
    })
  )

/** "6s", "500ms", "1m" or a bare number of seconds, from min to max. */
export const parseDuration = (raw: string): number | undefined => {
  const match = /^(\d+(?:\.\d+)?)\s*(ms|s|m)?$/.exec(raw.trim())
  if (!match) return undefined
  const value = Number(match[1])
  const unit = match[2] ?? "s"
  return Math.round(unit === "ms" ? value : unit === "s" ? value * 1000 : value * 60_000)
}

const durationIn = (name: string, minMs: number, maxMs: number, fallback: string) =>
  Config.string(name).pipe(
    Config.withDefault(fallback),
    Config.mapOrFail((raw) => {
      const ms = parseDuration(raw)
      return ms !== undefined && ms >= minMs && ms <= maxMs
        ? Either.right(ms)
        : Either.left(invalid(name, `a duration from ${minMs} ms to ${maxMs / 1000} s, like 6s or 500ms`, raw))
    })
  )

const clusterTimings = Config.all({
  shardLockRefreshMs: durationIn("SHARD_LOCK_REFRESH", 500, 60_000, "2s"),
  shardLockExpirationMs: durationIn("SHARD_LOCK_EXPIRATION", 1_500, 300_000, "6s"),
  healthCheckIntervalMs: durationIn("RUNNER_HEALTH_CHECK_INTERVAL", 500, 600_000, "2s"),
  entityTerminationTimeoutMs: durationIn("ENTITY_TERMINATION_TIMEOUT", 0, 300_000, "5s"),
  drainGraceMs: Config.option(Config.string("DRAIN_GRACE")).pipe(
    Config.mapOrFail((raw) => {
      if (Option.isNone(raw) || raw.value.trim() === "") return Either.right(Option.none<number>())
      const ms = parseDuration(raw.value)
      return ms !== undefined && ms <= 120_000
        ? Either.right(Option.some(ms))
        : Either.left(invalid("DRAIN_GRACE", "a duration from 0 to 120 s, like 1s or 500ms", raw.value))
    })
  )
}).pipe(
  Config.mapOrFail((timings) =>
    timings.shardLockRefreshMs * 2 > timings.shardLockExpirationMs
      ? Either.left(
        ConfigError.InvalidData(
          [],
          `SHARD_LOCK_EXPIRATION must be at least twice SHARD_LOCK_REFRESH, got ${timings.shardLockExpirationMs} ms and ${timings.shardLockRefreshMs} ms`
        )
      )
      : Either.right(timings)
  )
)

const jobTimings = Config.all({
  taskDeadlineMs: Config.option(Config.string("KIE_TASK_DEADLINE")).pipe(
    Config.mapOrFail((raw) => {
      if (Option.isNone(raw) || raw.value.trim() === "") return Either.right(Option.none<number>())
      const ms = parseDuration(raw.value)
      return ms !== undefined && ms >= 5_000 && ms <= 3_600_000
        ? Either.right(Option.some(ms))
        : Either.left(invalid("KIE_TASK_DEADLINE", "a duration from 5 s to 60 m, like 40s or 20m", raw.value))
    })
  ),
  watchdogIntervalMs: durationIn("JOB_WATCHDOG_INTERVAL", 1_000, 3_600_000, "1m"),
  kieRetryBaseMs: durationIn("KIE_RETRY_BASE", 1_000, 60_000, "10s"),
  staleAfterMs: durationIn("JOB_STALE_AFTER", 1_000, 3_600_000, "2m")
})

const httpUrl = (name: string, fallback: string) =>
  Config.string(name).pipe(
    Config.withDefault(fallback),
    Config.mapOrFail((raw) => {
      try {
        const url = new URL(raw)
        if (url.protocol === "http:" || url.protocol === "https:") {
          return Either.right(raw.replace(/\/+$/, ""))
        }
      } catch {
        // fall through to the error below
      }
      return Either.left(invalid(name, "an http(s):// URL", raw))
    })
  )

const optionalRedacted = (name: string) =>
  Config.option(Config.redacted(name)).pipe(
    Config.map(Option.filter((value) => Redacted.value(value).trim() !== ""))
  )

// Telegram's rule for setWebhook's secret_token: anything else is refused on every attempt.
// The value is not echoed: it is a secret.
const webhookSecret = optionalRedacted("TELEGRAM_WEBHOOK_SECRET").pipe(
  Config.mapOrFail((secret) =>
    Option.isSome(secret) && !/^[A-Za-z0-9_-]{1,256}$/.test(Redacted.value(secret.value))
      ? Either.left(
        ConfigError.InvalidData([], "TELEGRAM_WEBHOOK_SECRET must be 1 to 256 characters of A-Z, a-z, 0-9, _ and -")
      )
      : Either.right(secret)
  )
)

const literal = <const A extends string>(name: string, values: ReadonlyArray<A>, fallback: A) =>
  Config.string(name).pipe(
    Config.withDefault(fallback),
    Config.mapOrFail((raw) =>
      (values as ReadonlyArray<string>).includes(raw)
        ? Either.right(raw as A)
        : Either.left(invalid(name, `one of ${values.join(", ")}`, raw))
    )
  )

export const parseStarPackages = (raw: string): Either.Either<ReadonlyArray<StarPackage>, string> => {
  const entries = raw.split(",").map((entry) => entry.trim()).filter((entry) => entry !== "")
  if (entries.length === 0) return Either.left("at least one package")
  const packages: Array<StarPackage> = []
  for (const entry of entries) {
    const match = /^(\d+):(\d+)$/.exec(entry)
    if (!match) return Either.left(`a comma-separated list of credits:stars pairs like 5:250,20:900`)
    const credits = Number(match[1])
    const stars = Number(match[2])
    if (credits < 1 || stars < 1 || stars > 10_000) {
      return Either.left(`credits of at least 1 and stars from 1 to 10000 in every pair`)
    }
    if (packages.some((existing) => existing.credits === credits)) {
      return Either.left(`one package per credit amount (${credits} appears twice)`)
    }
    packages.push({ credits, stars })
  }
  return Either.right(packages)
}

const databaseSettings = Config.all({
  url: Config.option(Config.redacted("DATABASE_URL")),
  dataDir: Config.string("DATA_DIR").pipe(Config.withDefault("./data"))
}).pipe(
  Config.mapOrFail(({ dataDir, url }): Either.Either<DatabaseSettings, ConfigError.ConfigError> => {
    if (Option.isNone(url) || Redacted.value(url.value).trim() === "") {
      return Either.right({ _tag: "Sqlite", dataDir, filename: `${dataDir.replace(/\/+$/, "")}/bot.db` })
    }
    const raw = Redacted.value(url.value)
    if (/^postgres(ql)?:\/\//.test(raw)) return Either.right({ _tag: "Postgres", url: url.value })
    // Only the scheme is echoed: the rest of the URL may carry a password.
    const scheme = raw.split(":")[0] ?? ""
    return Either.left(
      ConfigError.InvalidData([], `DATABASE_URL must be a postgres:// URL (or unset for SQLite), got a "${scheme}:" URL`)
    )
  })
)

const redisUrl = optionalRedacted("REDIS_URL").pipe(
  Config.mapOrFail((url) =>
    Option.isSome(url) && !/^rediss?:\/\//.test(Redacted.value(url.value))
      ? Either.left(ConfigError.InvalidData([], `REDIS_URL must be a redis:// or rediss:// URL`))
      : Either.right(url)
  )
)

export const clusterSecretRequired =
  "CLUSTER_SECRET must be set in cluster mode (DATABASE_URL=postgres://…) with a TELEGRAM_BOT_TOKEN: " +
  "the same value on every runner, at least 32 characters (e.g. openssl rand -base64 32)"

const clusterSecret = optionalRedacted("CLUSTER_SECRET").pipe(
  Config.mapOrFail((secret) =>
    Option.isSome(secret) && Redacted.value(secret.value).length < 32
      ? Either.left(ConfigError.InvalidData(
        [],
        `CLUSTER_SECRET must be at least 32 characters (e.g. openssl rand -base64 32), got ${Redacted.value(secret.value).length}`
      ))
      : Either.right(secret)
  )
)

const adminIds = Config.string("ADMIN_IDS").pipe(
  Config.withDefault(""),
  Config.mapOrFail((raw) => {
    const parts = raw.split(",").map((part) => part.trim()).filter((part) => part !== "")
    return parts.every((part) => /^\d+$/.test(part))
      ? Either.right(parts.map(Number))
      : Either.left(invalid("ADMIN_IDS", "a comma-separated list of numeric Telegram user ids", raw))
  })
)

const starPackages = Config.string("STAR_PACKAGES").pipe(
  Config.withDefault("5:250,20:900,50:2000"),
  Config.mapOrFail((raw) =>
    Either.mapLeft(parseStarPackages(raw), (expected) => invalid("STAR_PACKAGES", expected, raw))
  )
)

const publicUrl = Config.option(Config.string("PUBLIC_URL")).pipe(
  Config.mapOrFail((value) => {
    if (Option.isNone(value) || value.value.trim() === "") return Either.right(Option.none<string>())
    const raw = value.value
    return /^https?:\/\/[^\s/]+/.test(raw)
      ? Either.right(Option.some(raw.replace(/\/+$/, "")))
      : Either.left(invalid("PUBLIC_URL", "an http(s):// URL", raw))
  })
)

const kieModel = Config.string("KIE_MODEL").pipe(
  Config.withDefault("kling-2.6/image-to-video"),
  Config.mapOrFail((raw) =>
    findModel(raw.trim()) !== undefined
      ? Either.right(raw.trim())
      : Either.left(invalid("KIE_MODEL", `one of ${modelSlugs.join(", ")}`, raw))
  )
)

const resultHosts = Config.string("KIE_RESULT_HOSTS").pipe(
  Config.withDefault(defaultResultHosts.join(",")),
  Config.mapOrFail((raw) => {
    const hosts = raw.split(",").map((host) => host.trim().toLowerCase()).filter((host) => host !== "")
    const hostName = /^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)+$/
    return hosts.length > 0 && hosts.every((host) => hostName.test(host))
      ? Either.right(hosts)
      : Either.left(invalid("KIE_RESULT_HOSTS", "a comma-separated list of host names like aiquickdraw.com", raw))
  })
)

const hour = 3_600_000
const day = 24 * hour

/** "3 days", "72h", "1 hour", "90m", "2d": the longer durations of retention settings. */
export const parseLongDuration = (raw: string): number | undefined => {
  const match = /^(\d+(?:\.\d+)?)\s*(m|min|mins|minutes?|h|hours?|d|days?)$/i.exec(raw.trim())
  if (!match) return undefined
  const value = Number(match[1])
  const unit = match[2]!.toLowerCase()
  return Math.round(unit.startsWith("d") ? value * day : unit.startsWith("h") ? value * hour : value * 60_000)
}

const longDurationIn = (name: string, minMs: number, maxMs: number, fallback: string, range: string) =>
  Config.string(name).pipe(
    Config.withDefault(fallback),
    Config.mapOrFail((raw) => {
      const ms = parseLongDuration(raw)
      return ms !== undefined && ms >= minMs && ms <= maxMs
        ? Either.right(ms)
        : Either.left(invalid(name, `a duration from ${range}, like "3 days" or 12h`, raw))
    })
  )

// A processed message younger than an hour may still be read back by its sender (the
// reply of a persisted request), so the age has a floor.
const retentionSettings = Config.all({
  messageAgeMs: longDurationIn("RETENTION_AGE", hour, 3650 * day, "3 days", "1 hour to 3650 days"),
  jobEventsAgeMs: Config.string("JOB_EVENTS_RETENTION").pipe(
    Config.withDefault("90 days"),
    Config.mapOrFail((raw) => {
      if (raw.trim().toLowerCase() === "forever") return Either.right(Option.none<number>())
      const ms = parseLongDuration(raw)
      return ms !== undefined && ms >= day && ms <= 3650 * day
        ? Either.right(Option.some(ms))
        : Either.left(invalid("JOB_EVENTS_RETENTION", `a duration from 1 to 3650 days, like "90 days", or forever`, raw))
    })
  ),
  intervalMs: longDurationIn("RETENTION_INTERVAL", 60_000, 7 * day, "1 hour", "1 minute to 7 days")
})

/**
 * The sandbox is all or nothing: a real bot token beside the KIE simulator would sell
 * simulated videos for real Stars, and a real KIE key beside the Telegram simulator would
 * spend real KIE credits on nobody. A real token also takes real payments, whose invoices
 * every runner must sign with the same key.
 */
const credentialProblems = (settings: AppSettings): ReadonlyArray<string> => {
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

export const appSettings: Config.Config<AppSettings> = Config.all({
  nodeEnv: literal("NODE_ENV", ["development", "production", "test"], "development"),
  telegram: Config.all({
    botToken: optionalRedacted("TELEGRAM_BOT_TOKEN"),
    apiRoot: httpUrl("TELEGRAM_API_ROOT", "https://api.telegram.org"),
    mode: literal("TELEGRAM_MODE", ["polling", "webhook"], "polling"),
    webhookSecret
  }),
  kie: Config.all({
    apiKey: optionalRedacted("KIE_API_KEY"),
    baseUrl: httpUrl("KIE_BASE_URL", "https://api.kie.ai"),
    uploadBaseUrl: httpUrl("KIE_UPLOAD_BASE_URL", "https://kieai.redpandaai.co"),
    webhookHmacKey: optionalRedacted("KIE_WEBHOOK_HMAC_KEY"),
    model: kieModel,
    rateLimit: integerIn("KIE_RATE_LIMIT", 3, 1000, 20),
    callbackSecret: optionalRedacted("KIE_CALLBACK_SECRET"),
    resultHosts
  }),
  publicUrl,
  database: databaseSettings,
  redisUrl,
  httpHost: Config.string("HTTP_HOST").pipe(Config.withDefault("0.0.0.0")),
  httpPort: integerIn("HTTP_PORT", 0, 65535, 8080),
  runnerHost: Config.string("RUNNER_HOST").pipe(Config.withDefault("127.0.0.1")),
  runnerPort: integerIn("RUNNER_PORT", 1, 65535, 34431),
  maxConcurrentTransfers: integerIn("MAX_CONCURRENT_TRANSFERS", 1, 256, 8),
  clusterSecret,
  cluster: clusterTimings,
  retention: retentionSettings,
  adminIds,
  freeTokens: integerIn("FREE_TOKENS", 0, 1000, 2),
  starPackages,
  bot: Config.all({
    maxJobsInFlight: integerIn("MAX_JOBS_IN_FLIGHT", 1, 100, 2),
    floodLimitPerMinute: integerIn("FLOOD_LIMIT_PER_MINUTE", 1, 1000, 20),
    pollTimeoutSeconds: integerIn("TELEGRAM_POLL_TIMEOUT", 0, 50, 25)
  }),
  payments: Config.all({
    secret: optionalRedacted("PAYMENTS_SECRET")
  }),
  logLevel: logLevelConfig,
  dashboardToken: dashboardTokenConfig,
  jobs: jobTimings
}).pipe(
  Config.mapOrFail((settings) =>
    settings.telegram.mode === "webhook" && Option.isNone(settings.telegram.webhookSecret)
      ? Either.left(ConfigError.InvalidData([], "TELEGRAM_WEBHOOK_SECRET must be set when TELEGRAM_MODE=webhook"))
      : settings.telegram.mode === "webhook" && Option.isNone(settings.publicUrl)
      ? Either.left(ConfigError.InvalidData([], "PUBLIC_URL must be set when TELEGRAM_MODE=webhook"))
      : settings.database._tag === "Postgres" && Option.isSome(settings.telegram.botToken) &&
          Option.isNone(settings.clusterSecret)
      ? Either.left(ConfigError.MissingData([], clusterSecretRequired))
      : Either.right(settings)
  ),
  Config.mapOrFail((settings) => {
    const problems = credentialProblems(settings)
    return problems.length === 0
      ? Either.right(settings)
      : Either.left(problems.map((problem) => ConfigError.MissingData([], problem)).reduce(ConfigError.And))
  })
)

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
