/**
 * Fresh databases for tests: a SQLite file in a temporary directory, or a new database on
 * the Postgres at TEST_DATABASE_URL (default: the local server). Each is dropped when the
 * test's scope closes.
 */
import { SqlClient } from "@effect/sql"
import { PgClient } from "@effect/sql-pg"
import { Effect, Layer, Redacted } from "effect"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { AppConfig, type AppSettings } from "../../src/config/index.js"
import { withDefaultUser } from "../../src/storage/database.js"

export const TEST_DATABASE_URL = process.env.TEST_DATABASE_URL ?? "postgres://127.0.0.1:5432/postgres"

export type Dialect = "sqlite" | "pg"

let counter = 0

const adminClient = PgClient.layer({ url: withDefaultUser(Redacted.make(TEST_DATABASE_URL)), maxConnections: 1 })

/** Creates a database (a copy of `template`, if named) and yields its URL; drops it (and its connections) afterwards. */
const freshPostgresDatabase = (template: string | undefined) => Effect.gen(function*() {
  const name = `bot_test_${process.pid}_${Date.now()}_${counter++}`
  const copy = template === undefined || template === "" ? "" : ` TEMPLATE ${template}`
  const create = Effect.flatMap(PgClient.PgClient, (sql) => sql.unsafe(`CREATE DATABASE ${name}${copy}`))
  const drop = Effect.flatMap(PgClient.PgClient, (sql) => sql.unsafe(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`))
  yield* Effect.acquireRelease(
    create.pipe(Effect.provide(adminClient), Effect.orDie),
    () => drop.pipe(Effect.provide(adminClient), Effect.orDie)
  )
  const url = new URL(TEST_DATABASE_URL)
  url.pathname = `/${name}`
  return url.toString()
})

/** An empty database. */
export const freshPostgresUrl = freshPostgresDatabase(undefined)

/**
 * A database with the app's migrations and the cluster's tables: a copy of the test run's
 * template (test/support/postgres-template.ts), or an empty one where there is none.
 */
export const migratedPostgresUrl = Effect.suspend(() => freshPostgresDatabase(process.env.TEST_POSTGRES_TEMPLATE))

export const freshSqliteDir = Effect.acquireRelease(
  Effect.sync(() => mkdtempSync(join(tmpdir(), "bot-test-"))),
  (dir) => Effect.sync(() => rmSync(dir, { recursive: true, force: true }))
)

/**
 * Settings for a fresh database of the dialect, plus the given variables. A Postgres one
 * comes migrated unless `migrated` is false (the runner migrates it again, which is a no-op).
 */
export const freshSettings = (dialect: Dialect, env: Record<string, string> = {}, { migrated = true } = {}) =>
  Effect.gen(function*() {
    // Postgres is cluster mode, where a bot token requires CLUSTER_SECRET.
    const database = dialect === "pg"
      ? { DATABASE_URL: yield* (migrated ? migratedPostgresUrl : freshPostgresUrl), CLUSTER_SECRET: "test-cluster-secret-of-at-least-32-chars" }
      : { DATA_DIR: yield* freshSqliteDir }
    return yield* AppConfig.fromEnv({ HTTP_HOST: "127.0.0.1", ...database, ...env }).pipe(Effect.orDie)
  })

export const configLayer = (settings: AppSettings) => Layer.succeed(AppConfig, settings)

export const dialects: ReadonlyArray<Dialect> = ["sqlite", "pg"]

/**
 * A trigger that refuses `event` on `table` whenever `condition` (SQL over `NEW`) holds, with
 * a constraint-class error on both dialects (Postgres 23514, SQLite SQLITE_CONSTRAINT_TRIGGER):
 * a failure that repeats however often the work is tried again.
 */
export const refuseRows = (name: string, event: "INSERT" | "UPDATE", table: string, condition: string) =>
  Effect.flatMap(SqlClient.SqlClient, (sql) =>
    sql.onDialectOrElse({
      pg: () =>
        sql.unsafe(`CREATE FUNCTION ${name}() RETURNS trigger LANGUAGE plpgsql AS $$
          BEGIN
            IF ${condition} THEN RAISE EXCEPTION 'refused' USING ERRCODE = 'check_violation'; END IF;
            RETURN NEW;
          END $$`).pipe(
          Effect.zipRight(sql.unsafe(`CREATE TRIGGER ${name} BEFORE ${event} ON ${table} FOR EACH ROW EXECUTE FUNCTION ${name}()`))
        ),
      orElse: () =>
        sql.unsafe(`CREATE TRIGGER ${name} BEFORE ${event} ON ${table} WHEN ${condition}
          BEGIN SELECT RAISE(ABORT, 'refused'); END`)
    }))
