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
import { isRunAlive } from "./leftovers.js"

// The pid names the run, for the sweep below; the time keeps a reused pid apart.
const template = `bot_template_${process.pid}_${Date.now()}`

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
  const reachable = await admin(async (client) => {
    // A run stopped by Ctrl-C leaves its template behind.
    const { rows } = await client.query<{ datname: string }>(`SELECT datname FROM pg_database WHERE datname LIKE 'bot\\_template\\_%'`)
    for (const { datname } of rows) {
      if (!isRunAlive(Number(datname.split("_")[2]))) await client.query(`DROP DATABASE IF EXISTS ${datname} WITH (FORCE)`)
    }
    await client.query(`CREATE DATABASE ${template}`)
  }).then(() => true, () => false)
  if (!reachable) return
  const url = new URL(TEST_DATABASE_URL)
  url.pathname = `/${template}`
  const tables = Layer.mergeAll(MigrationsLive, SqlMessageStorage.layer, SqlRunnerStorage.layer).pipe(
    Layer.provide(ShardingConfig.layer()),
    Layer.provide(PgClient.layer({ url: withDefaultUser(Redacted.make(url.toString())) }))
  )
  // A migration that fails here fails again, with its error, in each test that migrates.
  const migrated = await Effect.runPromise(Effect.scoped(Layer.build(tables))).then(() => true, () => false)
  if (migrated) process.env.TEST_POSTGRES_TEMPLATE = template
  else await teardown()
}

export const teardown = async () => {
  await admin((client) => client.query(`DROP DATABASE IF EXISTS ${template} WITH (FORCE)`)).catch(() => undefined)
}
