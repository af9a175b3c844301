/**
 * The one SQL database of a runner: a SQLite file in embedded mode, Postgres in cluster
 * mode. Application tables and the cluster's message and runner storage share it.
 */
import { SqlClient } from "@effect/sql"
import type { SqlError } from "@effect/sql/SqlError"
import { PgClient } from "@effect/sql-pg"
import { SqliteClient } from "@effect/sql-sqlite-node"
import { Cause, type ConfigError, Effect, Layer, Redacted, Schema } from "effect"
import { mkdirSync } from "node:fs"
import { userInfo } from "node:os"
import { AppConfig, type DatabaseSettings } from "../config/index.js"
import { MigrationsLive } from "./migrations.js"
import { onePerClientPool, runnerSessionName } from "./pg-pool.js"

export class DatabaseLocked extends Schema.TaggedError<DatabaseLocked>()("DatabaseLocked", {
  filename: Schema.String
}) {
  get message() {
    return `${this.filename} is in use by another bot process. Embedded mode runs one process per DATA_DIR; ` +
      `stop the other process, choose another DATA_DIR, or use DATABASE_URL=postgres://… to run several runners.`
  }
}

/**
 * Two processes on one SQLite file would both believe they own every shard (the lock rows
 * carry the same default address), so the first process takes SQLite's exclusive lock and
 * keeps it: the operating system releases it when the process dies, even on kill -9.
 */
const holdExclusiveLock = (locked: DatabaseLocked) =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    yield* sql.unsafe("PRAGMA busy_timeout = 0")
    yield* sql.unsafe("PRAGMA locking_mode = EXCLUSIVE")
    yield* sql.unsafe("BEGIN EXCLUSIVE")
    yield* sql.unsafe("COMMIT")
    yield* sql.unsafe("PRAGMA busy_timeout = 5000")
  }).pipe(Effect.mapError(() => locked))

const isBusy = (cause: Cause.Cause<unknown>) => /database is locked|SQLITE_BUSY/i.test(String(Cause.squash(cause)))

const sqliteLayer = (settings: Extract<DatabaseSettings, { _tag: "Sqlite" }>) =>
  Layer.unwrapEffect(
    Effect.sync(() => {
      if (settings.filename !== ":memory:") mkdirSync(settings.dataDir, { recursive: true })
      const locked = new DatabaseLocked({ filename: settings.filename })
      // Opening the file already fails (as a defect) when another process holds the lock.
      const explainOpenFailure = (
        cause: Cause.Cause<ConfigError.ConfigError>
      ): Layer.Layer<SqlClient.SqlClient, DatabaseLocked | ConfigError.ConfigError> =>
        isBusy(cause) ? Layer.fail(locked) : Layer.failCause(cause)
      const client = SqliteClient.layer({ filename: settings.filename }).pipe(
        Layer.catchAllCause(explainOpenFailure)
      )
      return Layer.effectDiscard(holdExclusiveLock(locked)).pipe(Layer.provideMerge(client))
    })
  )

/**
 * libpq (psql) connects as the operating-system user when the URL names none; node-pg
 * would send no user at all, so the same URL is completed the way psql reads it.
 */
export const withDefaultUser = (url: Redacted.Redacted<string>): Redacted.Redacted<string> => {
  // A form only node-pg reads (a socket host: postgres://user@/db?host=/run/postgresql) names its user.
  if (!URL.canParse(Redacted.value(url))) return url
  const parsed = new URL(Redacted.value(url))
  if (parsed.username !== "") return url
  parsed.username = userInfo().username
  return Redacted.make(parsed.toString())
}

const postgresLayer = (settings: Extract<DatabaseSettings, { _tag: "Postgres" }>, runnerAddress: string, maxConnections = 20) =>
  PgClient.layerFromPool({
    acquire: onePerClientPool(withDefaultUser(settings.url), { maxConnections, applicationName: runnerSessionName(runnerAddress) })
  })

/**
 * The Telegram poller's own SqlClient: on Postgres two connections of its own, so that its
 * few statements a batch (src/telegram/intake/lone-photos.ts) do not wait in line behind the
 * jobs' hundreds on the runner's pool, each batch waiting for the one before it; on SQLite,
 * which has one connection, the runner's client. Not migrated: `DatabaseLive` does that.
 */
export const IntakeDatabaseLive = Layer.unwrapEffect(
  Effect.map(AppConfig, (config) =>
    config.database._tag === "Sqlite"
      ? Layer.effect(SqlClient.SqlClient, SqlClient.SqlClient)
      : postgresLayer(config.database, `${config.runnerHost}:${config.runnerPort}`, 2))
)

/** The SqlClient for the configured database, migrated. */
export const DatabaseLive = Layer.unwrapEffect(
  Effect.map(AppConfig, (config) => {
    const client: Layer.Layer<SqlClient.SqlClient, DatabaseLocked | SqlError | ConfigError.ConfigError> =
      config.database._tag === "Sqlite"
        ? sqliteLayer(config.database)
        : postgresLayer(config.database, `${config.runnerHost}:${config.runnerPort}`)
    return MigrationsLive.pipe(Layer.provideMerge(client))
  })
)

export const describeDatabase = (settings: DatabaseSettings): string =>
  settings._tag === "Sqlite" ? `SQLite file ${settings.filename}` : "PostgreSQL"
