import { Migrator, SqlClient } from "@effect/sql"
import { PgClient } from "@effect/sql-pg"
import { SqliteClient } from "@effect/sql-sqlite-node"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer, Redacted, type Scope } from "effect"
import { join } from "node:path"
import { withDefaultUser } from "../../../src/storage/database.js"
import { migrate } from "../../../src/storage/migrations.js"
import appTables from "../../../src/storage/migrations/0001_app_tables.js"
import jobProgress from "../../../src/storage/migrations/0002_job_progress.js"
import botIntake from "../../../src/storage/migrations/0003_bot_intake.js"
import analyticsViews from "../../../src/storage/migrations/0004_analytics_views.js"
import { dialects, freshPostgresUrl, freshSqliteDir } from "../../support/database.js"

/** The schema as it was before 0012. */
const before0012 = Migrator.make({})({
  loader: Migrator.fromRecord({
    "0001_app_tables": appTables,
    "0002_job_progress": jobProgress,
    "0003_bot_intake": botIntake,
    "0004_analytics_views": analyticsViews
  }),
  table: "app_migrations"
})

// The migration lock holds one connection of its own while the migrator uses another.
const client = (dialect: "sqlite" | "pg"): Layer.Layer<SqlClient.SqlClient, unknown, Scope.Scope> =>
  dialect === "pg"
    ? Layer.unwrapEffect(Effect.map(freshPostgresUrl, (url) => PgClient.layer({ url: withDefaultUser(Redacted.make(url)), maxConnections: 3 })))
    : Layer.unwrapEffect(Effect.map(freshSqliteDir, (dir) => SqliteClient.layer({ filename: join(dir, "bot.db") })))

describe.each(dialects)("migration 0012 on %s", (dialect) => {
  it.scoped("keeps every ledger row and id, the views still read the ledger, and the new kinds are accepted", () =>
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      yield* before0012
      yield* sql`INSERT INTO users (id) VALUES (1), (2)`
      yield* sql`INSERT INTO credit_ledger (user_id, op_key, kind, delta_credits, delta_free) VALUES
        (1, 'free_grant:1', 'free_grant', 0, 2), (2, 'free_grant:2', 'free_grant', 0, 2), (1, 'grant:c1', 'grant', 5, 0)`
      const rowsBefore = yield* sql`SELECT id, user_id, op_key, kind, delta_credits, delta_free FROM credit_ledger ORDER BY id`
      const refused = yield* sql`INSERT INTO credit_ledger (user_id, op_key, kind, delta_credits, delta_free)
        VALUES (1, 'x', 'promo', 0, 1)`.pipe(Effect.flip)
      assert.match(String(refused.cause), /check|constraint/i)

      yield* migrate
      assert.deepStrictEqual(yield* sql`SELECT id, user_id, op_key, kind, delta_credits, delta_free FROM credit_ledger ORDER BY id`, rowsBefore)
      yield* sql`INSERT INTO credit_ledger (user_id, op_key, kind, delta_credits, delta_free) VALUES
        (1, 'promo:A:1', 'promo', 0, 3), (2, 'referral:1', 'referral_bonus', 0, 1)`
      const ids = (yield* sql<{ id: unknown }>`SELECT id FROM credit_ledger ORDER BY id`).map((row) => Number(row.id))
      // New rows number on after the old ones (Postgres's sequence also spent one on the refused insert).
      assert.deepStrictEqual(ids.slice(0, 3), [1, 2, 3])
      assert.isTrue(ids[3]! > 3 && ids[4]! > ids[3]!)
      // The rules of 0001 still hold on the rebuilt table.
      const twice = yield* sql`INSERT INTO credit_ledger (user_id, op_key, kind, delta_credits, delta_free)
        VALUES (1, 'free_grant:again', 'free_grant', 0, 2)`.pipe(Effect.flip)
      assert.match(String(twice.cause), /unique|constraint/i)
      const bogus = yield* sql`INSERT INTO credit_ledger (user_id, op_key, kind, delta_credits, delta_free)
        VALUES (1, 'y', 'gift', 0, 1)`.pipe(Effect.flip)
      assert.match(String(bogus.cause), /check|constraint/i)
      // A view of 0004 that reads the ledger's table by name still answers.
      const revenue = yield* sql`SELECT * FROM analytics_revenue_daily`
      assert.deepStrictEqual(revenue, [])
    }).pipe(Effect.provide(client(dialect))), 60_000)
})
