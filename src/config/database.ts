/** Where the state lives: SQLite or Postgres, and Redis for the shared limits. */
import { Config, ConfigError, Either, Option, Redacted } from "effect"
import { optionalRedacted, plainString } from "./parsers.js"

/** DATABASE_URL unset: SQLite at DATA_DIR/bot.db, one runner (embedded mode). */
export type DatabaseSettings =
  | { readonly _tag: "Sqlite"; readonly dataDir: string; readonly filename: string }
  | { readonly _tag: "Postgres"; readonly url: Redacted.Redacted<string> }

export const databaseSettings = Config.all({
  url: optionalRedacted("DATABASE_URL"),
  dataDir: plainString("DATA_DIR", "./data")
}).pipe(
  Config.mapOrFail(({ dataDir, url }): Either.Either<DatabaseSettings, ConfigError.ConfigError> => {
    if (Option.isNone(url)) {
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

/** Unset: in-process limits. */
export const redisUrl = optionalRedacted(
  "REDIS_URL",
  (url) => /^rediss?:\/\//.test(url) ? undefined : "a redis:// or rediss:// URL"
)
