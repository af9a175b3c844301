/**
 * The runner storage (@effect/cluster SqlRunnerStorage) keeps its shard locks on one reserved
 * connection and, when a lock statement outlives its deadline, rebuilds that connection while
 * the statement finishes on its own: the old connection is unlocked (`pg_advisory_unlock_all`,
 * with a deadline of its own) and handed back to the pool. An unlock that missed its deadline,
 * or a late `pg_try_advisory_lock` queued behind it, left shard locks on a pooled session
 * nobody knew of, and no runner could take those shards again.
 * The product's pool closes a connection that may hold session locks when its lease ends
 * (src/storage/pg-pool.ts), so such locks go with it; other connections are kept.
 */
import { SqlClient } from "@effect/sql"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Fiber, Layer, Scope } from "effect"
import { DatabaseLive } from "../../src/storage/database.js"
import { configLayer, freshSettings } from "../support/database.js"

const LOCK = 424_242

const usingDatabase = Effect.gen(function*() {
  const settings = yield* freshSettings("pg")
  const context = yield* Layer.build(DatabaseLive.pipe(Layer.provide(configLayer(settings))))
  return yield* SqlClient.SqlClient.pipe(Effect.provide(context))
})

const advisoryHolders = (sql: SqlClient.SqlClient, lock: number) =>
  sql<{ pid: number }>`SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted AND objid = ${lock}`.pipe(
    Effect.map((rows) => rows.map((row) => row.pid))
  )

/**
 * A lease like the runner storage's lock connection: a reserved connection of the product's
 * pool that asked its backend pid first. `lease` ends it, as the storage's rebuild does.
 */
const lockConnection = Effect.gen(function*() {
  const sql = yield* usingDatabase
  const lease = yield* Scope.make()
  const connection = yield* sql.reserve.pipe(Scope.extend(lease))
  const pid = Number((yield* connection.executeValues("SELECT pg_backend_pid()", []))[0]![0])
  return { sql, lease, connection, pid }
})

describe("Postgres: a connection that took session locks is not reused", () => {
  it.scopedLive("the locks of a lock connection released without its unlock are gone with its session", () =>
    Effect.gen(function*() {
      const { connection, lease, pid, sql } = yield* lockConnection
      yield* connection.executeRaw(`SELECT pg_try_advisory_lock(${LOCK})`, [])
      assert.deepStrictEqual(yield* advisoryHolders(sql, LOCK), [pid])
      // The unlock missed its deadline: the lease ends with the lock held.
      yield* Scope.close(lease, Exit.void)
      yield* Effect.sleep("300 millis")
      assert.deepStrictEqual(yield* advisoryHolders(sql, LOCK), [])
      assert.deepStrictEqual(yield* sql<{ ok: number }>`SELECT 1 AS ok`, [{ ok: 1 }])
    }), { timeout: 30_000 })

  it.scopedLive("a lock statement still waiting its turn on the connection when the lease ends fails and takes no lock", () =>
    Effect.gen(function*() {
      const { connection, lease, sql } = yield* lockConnection
      // One statement runs; the lock statement waits behind it (src/storage/pg-pool.ts).
      const running = yield* Effect.fork(connection.executeRaw("SELECT pg_sleep(0.5)", []))
      const waiting = yield* Effect.fork(connection.executeRaw(`SELECT pg_try_advisory_lock(${LOCK})`, []))
      yield* Effect.sleep("50 millis")
      yield* Scope.close(lease, Exit.void)
      assert.isTrue(Exit.isFailure(yield* Fiber.await(running)))
      assert.isTrue(Exit.isFailure(yield* Fiber.await(waiting)))
      yield* Effect.sleep("300 millis")
      assert.deepStrictEqual(yield* advisoryHolders(sql, LOCK), [])
    }), { timeout: 30_000 })

  it.scopedLive("a shard lock taken behind the unlock of a released lock connection is gone with its session", () =>
    Effect.gen(function*() {
      const { connection, lease, pid, sql } = yield* lockConnection
      yield* connection.executeRaw(`SELECT pg_try_advisory_lock(${LOCK})`, [])
      assert.deepStrictEqual(yield* advisoryHolders(sql, LOCK), [pid])

      // What the rebuild does: the unlock, then the lease ends; a late lock statement of the
      // timed-out operation is queued on the same connection behind the unlock.
      const unlock = yield* Effect.fork(connection.executeRaw("SELECT pg_advisory_unlock_all()", []))
      const late = yield* Effect.fork(connection.executeRaw(`SELECT pg_try_advisory_lock(${LOCK})`, []))
      yield* Fiber.await(unlock)
      yield* Scope.close(lease, Exit.void)
      yield* Fiber.await(late)

      // Whether the late statement ran or failed, no session holds the lock, and the session is gone.
      yield* Effect.sleep("300 millis")
      assert.deepStrictEqual(yield* advisoryHolders(sql, LOCK), [])
      const sessions = yield* sql<{ n: number }>`SELECT CAST(COUNT(*) AS INTEGER) AS n FROM pg_stat_activity WHERE pid = ${pid}`
      assert.strictEqual(sessions[0]?.n, 0)
      // And the pool goes on.
      assert.deepStrictEqual(yield* sql<{ ok: number }>`SELECT 1 AS ok`, [{ ok: 1 }])
    }), { timeout: 30_000 })

  it.scopedLive("a lock statement sent to a lock connection after its release takes no lock", () =>
    Effect.gen(function*() {
      const { connection, lease, sql } = yield* lockConnection
      yield* Scope.close(lease, Exit.void)
      const late = yield* Effect.exit(connection.executeRaw(`SELECT pg_try_advisory_lock(${LOCK})`, []))
      assert.isTrue(Exit.isFailure(late))
      assert.deepStrictEqual(yield* advisoryHolders(sql, LOCK), [])
    }), { timeout: 30_000 })

  it.scopedLive("a connection that took no session lock goes back to the pool", () =>
    Effect.gen(function*() {
      const sql = yield* usingDatabase
      // The session's client port names it without a statement of the locking kind.
      const sessionOfLease = Effect.scoped(
        Effect.flatMap(sql.reserve, (connection) =>
          Effect.map(connection.executeValues("SELECT inet_client_port()", []), (rows) => Number(rows[0]![0])))
      )
      const first = yield* sessionOfLease
      assert.strictEqual(yield* sessionOfLease, first)
    }), { timeout: 30_000 })
})
