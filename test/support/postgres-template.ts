/**
 * Vitest global setup: one Postgres database per test run with the app's migrations and the
 * cluster's tables, which `freshSettings("pg")` copies (CREATE DATABASE … TEMPLATE) instead
 * of migrating a new database for every test; the suite makes about a hundred of them.
 * Migrating an empty database stays tested: `freshPostgresUrl` (test/storage/migrations/)
 * and every real process the tests start get an empty one.
 */
import { ShardingConfig, SqlMessageStorage, SqlRunnerStorage } from "@effect/cluster"
import { PgClient } from "@effect/sql-pg"
import { Effect, Layer, Redacted } from "effect"
import pg from "pg"
import { MigrationsLive } from "../../src/storage/migrations.js"
import { withDefaultUser } from "../../src/storage/database.js"
import { TEST_DATABASE_URL } from "./database.js"

const template = `bot_template_${process.pid}`

const admin = async <A>(use: (client: pg.Client) => Promise<A>) => {
  const client = new pg.Client({ connectionString: Redacted.value(withDefaultUser(Redacted.make(TEST_DATABASE_URL))) })
  await client.connect()
  try {
    return await use(client)
  } finally {
    await client.end()
  }
}

export const setup = async () => {
  // Without a Postgres the tests that need one fail on their own, with its error.
  const created = await admin((client) => client.query(`CREATE DATABASE ${template}`)).then(() => true, () => false)
  if (!created) return
  const url = new URL(TEST_DATABASE_URL)
  url.pathname = `/${template}`
  const tables = Layer.mergeAll(MigrationsLive, SqlMessageStorage.layer, SqlRunnerStorage.layer).pipe(
    Layer.provide(ShardingConfig.layer()),
    Layer.provide(PgClient.layer({ url: withDefaultUser(Redacted.make(url.toString())) }))
  )
  await Effect.runPromise(Effect.scoped(Layer.build(tables)))
  process.env.TEST_POSTGRES_TEMPLATE = template
}

export const teardown = async () => {
  await admin((client) => client.query(`DROP DATABASE IF EXISTS ${template} WITH (FORCE)`)).catch(() => undefined)
}
