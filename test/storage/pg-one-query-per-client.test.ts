/**
 * node-pg deprecates a query issued while its client still runs one ("Calling client.query()
 * when the client is already executing a query"; pg@9 drops its queue). The cluster's runner
 * storage does that: it holds one reserved connection for its shard locks and releases each
 * shard from a fiber of its own, so a runner that hands shards over (another runner joined)
 * queues dozens of `pg_advisory_unlock` on that one client. The product's Postgres pool
 * serialises the queries of each client itself; node-pg then never queues.
 */
import { RunnerAddress, RunnerStorage, ShardId, ShardingConfig, SqlRunnerStorage } from "@effect/cluster"
import { SqlClient } from "@effect/sql"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer, Redacted } from "effect"
import { DatabaseLive, withDefaultUser } from "../../src/storage/database.js"
import { onePerClientPool } from "../../src/storage/pg-pool.js"
import { configLayer, freshSettings, TEST_DATABASE_URL } from "../support/database.js"

/** The 'warning' events the process emits while `self` runs (and a tick after). */
const warningsDuring = <A, E, R>(self: Effect.Effect<A, E, R>) =>
  Effect.gen(function*() {
    const seen: Array<string> = []
    const listener = (warning: Error) => seen.push(`${warning.name}: ${warning.message}`)
    yield* Effect.acquireRelease(
      Effect.sync(() => process.on("warning", listener)),
      () => Effect.sync(() => process.off("warning", listener))
    )
    const result = yield* self
    yield* Effect.promise(() => new Promise((resolve) => setTimeout(resolve, 50)))
    return { result, warnings: seen }
  })

const shards = Array.from({ length: 60 }, (_, i) => ShardId.make("default", i + 1))
const address = RunnerAddress.make("127.0.0.1", 1)

describe("Postgres: one query at a time per client", () => {
  it.scopedLive("the runner storage releases many shards at once without node-pg queueing (no deprecation warning)", () =>
    Effect.gen(function*() {
      const settings = yield* freshSettings("pg")
      const database = DatabaseLive.pipe(Layer.provide(configLayer(settings)))
      const context = yield* Layer.build(
        SqlRunnerStorage.layer.pipe(
          Layer.provideMerge(database),
          Layer.provide(ShardingConfig.layer({ shardsPerGroup: shards.length }))
        )
      )
      const storage = yield* RunnerStorage.RunnerStorage.pipe(Effect.provide(context))
      const acquired = yield* storage.acquire(address, shards)
      assert.strictEqual(acquired.length, shards.length)

      const { warnings } = yield* warningsDuring(
        Effect.forEach(shards, (shard) => storage.release(address, shard), { concurrency: "unbounded", discard: true })
      )
      assert.deepStrictEqual(warnings.filter((w) => w.includes("already executing a query")), [])
      // Released for real: no advisory lock is held in this database any more.
      const held = yield* Effect.flatMap(SqlClient.SqlClient, (sql) =>
        sql<{ n: number }>`
          SELECT CAST(COUNT(*) AS INTEGER) AS n FROM pg_locks
          WHERE locktype = 'advisory' AND granted AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`
      ).pipe(Effect.provide(context))
      assert.strictEqual(held[0]?.n, 0)
    }), { timeout: 60_000 })

  it.scopedLive("concurrent statements in one transaction run one after another, in order", () =>
    Effect.gen(function*() {
      const settings = yield* freshSettings("pg")
      const context = yield* Layer.build(DatabaseLive.pipe(Layer.provide(configLayer(settings))))
      const sql = yield* SqlClient.SqlClient.pipe(Effect.provide(context))
      yield* sql`CREATE TABLE seen (n INTEGER NOT NULL, at_order SERIAL)`
      const { warnings } = yield* warningsDuring(
        sql.withTransaction(
          Effect.forEach(Array.from({ length: 20 }, (_, i) => i), (n) => sql`INSERT INTO seen (n) VALUES (${n})`, {
            concurrency: "unbounded",
            discard: true
          })
        )
      )
      assert.deepStrictEqual(warnings.filter((w) => w.includes("already executing a query")), [])
      const rows = yield* sql<{ n: number }>`SELECT n FROM seen ORDER BY at_order`
      assert.deepStrictEqual(rows.map((row) => row.n), Array.from({ length: 20 }, (_, i) => i))
    }), { timeout: 60_000 })

  it.scopedLive("a query node-pg refuses by throwing fails alone: the queries after it still run", () =>
    Effect.gen(function*() {
      const pool = yield* onePerClientPool(withDefaultUser(Redacted.make(TEST_DATABASE_URL)), { maxConnections: 1, applicationName: "refused-query-test" })
      const client = yield* Effect.acquireRelease(Effect.promise(() => pool.connect()), (client) => Effect.sync(() => client.release()))
      const answers = yield* Effect.promise(() =>
        Promise.allSettled([
          client.query("SELECT pg_sleep(0.05)"),
          client.query(null as unknown as string),
          client.query("SELECT 1 AS ok")
        ])
      )
      assert.deepStrictEqual(answers.map((answer) => answer.status), ["fulfilled", "rejected", "fulfilled"])
      const last = answers[2] as PromiseFulfilledResult<{ rows: Array<{ ok: number }> }>
      assert.deepStrictEqual(last.value.rows, [{ ok: 1 }])
    }), { timeout: 30_000 })
})
