/**
 * Runners that start together on a fresh Postgres database: the cluster's storage layers
 * create their tables as they are built, and without the migration lock two of them raced
 * to a duplicate pg_type row and one runner stopped.
 */
import { ShardingConfig, SqlMessageStorage, SqlRunnerStorage } from "@effect/cluster"
import { SqlClient } from "@effect/sql"
import { assert, describe, it } from "@effect/vitest"
import { PgClient } from "@effect/sql-pg"
import { Effect, Layer } from "effect"
import { builtUnderMigrationLock } from "../../src/cluster/runner.js"
import { DatabaseLive, withDefaultUser } from "../../src/storage/database.js"
import { configLayer, freshSettings } from "../support/database.js"

describe("cluster storage at start-up", () => {
  it.scoped("six runners building their storage at once on a fresh Postgres database all start", () =>
    Effect.gen(function*() {
      const settings = yield* freshSettings("pg", {}, { migrated: false })
      if (settings.database._tag !== "Postgres") return assert.fail("a Postgres database")
      const postgresUrl = settings.database.url
      const database = DatabaseLive.pipe(Layer.provide(configLayer(settings)))
      // The app's own tables first, then each runner with a pool of its own, as separate
      // processes would have, all at once.
      yield* Layer.build(database)
      const runnerStorage = Layer.mergeAll(
        builtUnderMigrationLock(SqlMessageStorage.layer),
        builtUnderMigrationLock(SqlRunnerStorage.layer)
      ).pipe(
        Layer.provide(PgClient.layer({ url: withDefaultUser(postgresUrl) })),
        Layer.provide(ShardingConfig.layer())
      )
      const built = yield* Effect.forEach(Array.from({ length: 6 }), () => Effect.either(Layer.build(runnerStorage)), {
        concurrency: "unbounded"
      })
      assert.deepStrictEqual(built.map((result) => result._tag), Array(6).fill("Right"))
      const tables = yield* Effect.flatMap(SqlClient.SqlClient, (sql) =>
        sql<{ tablename: string }>`SELECT tablename FROM pg_tables WHERE tablename LIKE 'cluster_%' ORDER BY tablename`
      ).pipe(Effect.provide(database))
      assert.includeMembers(tables.map((row) => row.tablename), ["cluster_messages", "cluster_replies", "cluster_runners"])
    }), 120_000)
})
