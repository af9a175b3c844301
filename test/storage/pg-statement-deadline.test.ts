/**
 * When Postgres stops answering while a statement is in flight (its host gone dark, a
 * partition, a failover whose old address stops answering), nothing closes the socket and
 * node-pg would wait for ever; @effect/sql-pg would hand the wedged connection back to the
 * pool. The product's pool closes a connection whose statement has no answer within its
 * deadline (src/storage/pg-pool.ts). Here the pool reaches Postgres through a relay on
 * loopback that can stop relaying while keeping every socket open: what a network does when
 * its packets vanish. The deadline is 2 s instead of a minute.
 */
import { SqlError } from "@effect/sql/SqlError"
import { PgClient } from "@effect/sql-pg"
import { assert, describe, it } from "@effect/vitest"
import { Duration, Effect, Either, Fiber, Layer, Option, Redacted, Schedule } from "effect"
import { readFileSync } from "node:fs"
import net from "node:net"
import pg from "pg"
import { withDefaultUser } from "../../src/storage/database.js"
import { clientKeepaliveIdle, onePerClientPool, StatementUnanswered } from "../../src/storage/pg-pool.js"
import { freshPostgresUrl } from "../support/database.js"

const deadline = Duration.seconds(2)

/**
 * A TCP relay to `upstream` on 127.0.0.1. `partition` stops it reading from every socket, old
 * and new, so nothing passes either way, closes included, while both ends stay connected;
 * `heal` lets the held bytes through.
 */
const relay = (upstream: { readonly host: string; readonly port: number }) =>
  Effect.acquireRelease(
    Effect.async<{ readonly port: number; readonly partition: () => void; readonly heal: () => void; readonly close: () => void }>(
      (resume) => {
        const sockets = new Set<net.Socket>()
        let partitioned = false
        const join = (from: net.Socket, to: net.Socket) => {
          sockets.add(from)
          from.on("data", (chunk) => to.write(chunk))
          from.on("end", () => to.end())
          from.on("close", () => {
            sockets.delete(from)
            to.destroy()
          })
          from.on("error", () => {})
          if (partitioned) from.pause()
        }
        const server = net.createServer((downstream) => {
          const toServer = net.connect(upstream.port, upstream.host)
          join(downstream, toServer)
          join(toServer, downstream)
        })
        server.listen(0, "127.0.0.1", () =>
          resume(Effect.succeed({
            port: (server.address() as net.AddressInfo).port,
            partition: () => {
              partitioned = true
              for (const socket of sockets) socket.pause()
            },
            heal: () => {
              partitioned = false
              for (const socket of sockets) socket.resume()
            },
            close: () => {
              server.close()
              for (const socket of sockets) socket.destroy()
            }
          })))
      }
    ),
    (relay) => Effect.sync(() => relay.close())
  )

/**
 * A fresh database, the product's pool reaching it through a relay, and an SqlClient on that
 * pool; `direct` is the database's own URL, for sessions the relay does not touch.
 */
const behindRelay = (maxConnections: number) =>
  Effect.gen(function*() {
    const direct = withDefaultUser(Redacted.make(yield* freshPostgresUrl))
    const url = new URL(Redacted.value(direct))
    const path = yield* relay({ host: url.hostname, port: Number(url.port === "" ? 5432 : url.port) })
    url.host = `127.0.0.1:${path.port}`
    const pool = yield* onePerClientPool(Redacted.make(url.toString()), {
      maxConnections,
      applicationName: "statement-deadline-test",
      statementDeadline: deadline
    })
    // The network heals before the pool ends, so its goodbyes are answered.
    yield* Effect.addFinalizer(() => Effect.sync(() => path.heal()))
    const context = yield* Layer.build(PgClient.layerFromPool({ acquire: Effect.succeed(pool) }))
    const sql = yield* PgClient.PgClient.pipe(Effect.provide(context))
    return { direct, relay: path, pool, sql }
  })

/** A session of its own on the database, past the relay. */
const directSession = (url: Redacted.Redacted<string>) =>
  Effect.acquireRelease(
    Effect.promise(async () => {
      const client = new pg.Client({ connectionString: Redacted.value(url) })
      await client.connect()
      return client
    }),
    (client) => Effect.promise(() => client.end())
  )

const run = (session: pg.Client, text: string) => Effect.promise(() => session.query(text))

/** Until another session of the database waits for a lock. */
const someoneWaitsForALock = (session: pg.Client) =>
  run(
    session,
    `SELECT CAST(COUNT(*) AS INTEGER) AS n FROM pg_stat_activity
     WHERE datname = current_database() AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()`
  ).pipe(Effect.map((result) => result.rows[0].n as number), Effect.repeat({ until: (n) => n > 0, schedule: Schedule.spaced("50 millis") }))

/** The pool's clients, in the order they were lent out and dropped. */
const watchLeases = (pool: pg.Pool) => {
  const lent: Array<pg.PoolClient> = []
  const dropped: Array<pg.PoolClient> = []
  pool.on("acquire", (client) => lent.push(client))
  pool.on("remove", (client) => dropped.push(client))
  return { lent, dropped }
}

describe("Postgres: a statement the server does not answer", () => {
  it.scopedLive("fails within the deadline, its connection is dropped, and the next statement runs on a new one", () =>
    Effect.gen(function*() {
      const { pool, relay, sql } = yield* behindRelay(1)
      const { dropped, lent } = watchLeases(pool)
      assert.deepStrictEqual(yield* sql<{ n: number }>`SELECT 1 AS n`, [{ n: 1 }])

      relay.partition()
      const failure = yield* Effect.flip(sql`SELECT 2 AS n`)
      assert.instanceOf(failure, SqlError)
      assert.instanceOf(failure.cause, StatementUnanswered)
      assert.strictEqual(lent[1], lent[0], "the unanswered statement ran on the connection that had answered")
      assert.deepStrictEqual(dropped, [lent[0]])

      relay.heal()
      assert.deepStrictEqual(yield* sql<{ n: number }>`SELECT 3 AS n`, [{ n: 3 }])
      assert.strictEqual(lent.length, 3)
      assert.notStrictEqual(lent[2], lent[0])
      assert.strictEqual(pool.totalCount, 1)
    }), { timeout: 30_000 })

  it.scopedLive("the statements queued behind it on its connection fail with it", () =>
    Effect.gen(function*() {
      const { relay, sql } = yield* behindRelay(1)
      const connection = yield* sql.reserve

      relay.partition()
      const outcomes = yield* Effect.forEach(
        [1, 2, 3],
        (n) => Effect.either(connection.executeRaw(`SELECT ${n} AS n`, [])),
        { concurrency: "unbounded" }
      )
      const failures = outcomes.map((outcome) => Either.getLeft(outcome).pipe(Option.getOrUndefined))
      for (const failure of failures) assert.instanceOf(failure, SqlError)
      assert.deepStrictEqual(failures.map((failure) => failure?.cause instanceof StatementUnanswered), [true, false, false])
    }), { timeout: 30_000 })

  it.scopedLive("a new connection whose server does not answer fails within the deadline too", () =>
    Effect.gen(function*() {
      const { relay, sql } = yield* behindRelay(2)
      // The pool's one connection stays lent, so the next statement needs another.
      yield* sql.reserve

      relay.partition()
      const failure = yield* Effect.flip(sql`SELECT 1 AS n`)
      assert.instanceOf(failure, SqlError)
      assert.strictEqual(failure.message, "Failed to acquire connection")
    }), { timeout: 30_000 })
})

describe("Postgres: statements that may wait past the deadline", () => {
  it.scopedLive("a session advisory lock statement waits for the lock as long as it is held", () =>
    Effect.gen(function*() {
      const { direct, sql } = yield* behindRelay(2)
      const holder = yield* directSession(direct)
      yield* run(holder, "SELECT pg_advisory_lock(4242)")

      const waiting = yield* Effect.fork(sql<{ locked: number }>`SELECT 1 AS locked FROM pg_advisory_lock(4242)`)
      yield* someoneWaitsForALock(holder)
      yield* Effect.sleep(Duration.times(deadline, 2))
      assert.isTrue(Option.isNone(yield* Fiber.poll(waiting)), "still waiting for the lock")

      yield* run(holder, "SELECT pg_advisory_unlock(4242)")
      assert.deepStrictEqual(yield* Fiber.join(waiting), [{ locked: 1 }])
    }), { timeout: 30_000 })

  it.scopedLive("a schema change waits for the transactions on its table as long as they last", () =>
    Effect.gen(function*() {
      const { direct, sql } = yield* behindRelay(2)
      const holder = yield* directSession(direct)
      yield* run(holder, "CREATE TABLE parked (id INTEGER)")
      yield* run(holder, "BEGIN")
      yield* run(holder, "LOCK TABLE parked IN ACCESS EXCLUSIVE MODE")

      const waiting = yield* Effect.fork(sql`ALTER TABLE parked ADD COLUMN note TEXT`)
      yield* someoneWaitsForALock(holder)
      yield* Effect.sleep(Duration.times(deadline, 2))
      assert.isTrue(Option.isNone(yield* Fiber.poll(waiting)), "still waiting for the table")

      yield* run(holder, "COMMIT")
      yield* Fiber.join(waiting)
      assert.deepStrictEqual((yield* run(holder, "SELECT note FROM parked")).fields.map((field) => field.name), ["note"])
    }), { timeout: 30_000 })
})

/** The kernel's timer on a local TCP socket (/proc/net/tcp): its kind and the seconds until it fires. */
const socketTimer = (localPort: number) => {
  const local = `0100007F:${localPort.toString(16).toUpperCase().padStart(4, "0")}`
  const row = readFileSync("/proc/net/tcp", "utf8").split("\n").map((line) => line.trim().split(/\s+/))
    .find((fields) => fields[1] === local && fields[3] === "01")
  const [kind, ticks] = (row?.[5] ?? "").split(":")
  // Clock ticks of USER_HZ, 100 a second on Linux.
  return { kind: Number.parseInt(kind ?? "", 16), seconds: Number.parseInt(ticks ?? "", 16) / 100 }
}

describe("Postgres: a silent connection", () => {
  it.scopedLive("is probed by its kernel after the keepalive's idle time", () =>
    Effect.gen(function*() {
      const { pool } = yield* behindRelay(1)
      const client = yield* Effect.acquireRelease(Effect.promise(() => pool.connect()), (client) => Effect.sync(() => client.release()))
      const timer = socketTimer((client.connection.stream as net.Socket).localPort!)
      // Kind 2 is the keepalive timer; a socket without keepalive has none (kind 0).
      assert.strictEqual(timer.kind, 2)
      assert.isAtMost(timer.seconds, Duration.toSeconds(clientKeepaliveIdle))
    }), { timeout: 30_000 })
})
