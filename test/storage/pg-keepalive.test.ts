/**
 * A runner's shard locks live as long as its Postgres session. When the runner's machine
 * vanishes (power, network) nothing closes its connections, and the server would keep the
 * sessions, and so the locks, until its TCP keepalive gives up: 2 h 11 min by default. The
 * product's sessions ask the server for a short keepalive (src/storage/pg-pool.ts). `SHOW`
 * reads the value back from the session's own socket, so these tests see what the server
 * actually applies, not only what was asked. The loss itself needs packets dropped on the
 * network, which this machine cannot do (no packet filter); the kernel's keepalive is what
 * ends such a session, and these settings are what it runs on.
 */
import { SqlClient } from "@effect/sql"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer, Redacted } from "effect"
import { userInfo } from "node:os"
import { DatabaseLive } from "../../src/storage/database.js"
import { connectionSettings, serverKeepalive } from "../../src/storage/pg-pool.js"
import { configLayer, freshSettings } from "../support/database.js"

const showAll = Effect.flatMap(SqlClient.SqlClient, (sql) =>
  Effect.all({
    idle: sql<{ tcp_keepalives_idle: string }>`SHOW tcp_keepalives_idle`,
    interval: sql<{ tcp_keepalives_interval: string }>`SHOW tcp_keepalives_interval`,
    count: sql<{ tcp_keepalives_count: string }>`SHOW tcp_keepalives_count`,
    statementTimeout: sql<{ statement_timeout: string }>`SHOW statement_timeout`
  })).pipe(Effect.map(({ count, idle, interval, statementTimeout }) => ({
    idle: Number(idle[0]?.tcp_keepalives_idle),
    interval: Number(interval[0]?.tcp_keepalives_interval),
    count: Number(count[0]?.tcp_keepalives_count),
    statementTimeout: statementTimeout[0]?.statement_timeout
  })))

/** Where this machine's Postgres listens on a Unix socket (Debian's default; TEST_PG_SOCKET_DIR elsewhere). */
const socketDirectory = process.env.TEST_PG_SOCKET_DIR ?? "/var/run/postgresql"

/** The product's database layer on a fresh database, its URL changed by `adjust`. */
const productDatabase = (adjust: (url: URL) => void = () => {}) =>
  Effect.gen(function*() {
    const settings = yield* freshSettings("pg")
    if (settings.database._tag !== "Postgres") return yield* Effect.dieMessage("expected Postgres settings")
    const url = new URL(Redacted.value(settings.database.url))
    adjust(url)
    const adjusted = { ...settings, database: { _tag: "Postgres" as const, url: Redacted.make(url.toString()) } }
    return yield* Layer.build(DatabaseLive.pipe(Layer.provide(configLayer(adjusted))))
  })

describe("Postgres: the server's keepalive for a runner's sessions", () => {
  it.scopedLive("every session of the product's pool asks for a keepalive that gives up within half a minute", () =>
    Effect.gen(function*() {
      const context = yield* productDatabase()
      // Several sessions at once, so more than one connection of the pool answers.
      const seen = yield* Effect.all(Array.from({ length: 4 }, () => showAll), { concurrency: "unbounded" }).pipe(
        Effect.provide(context)
      )
      for (const session of seen) {
        assert.deepStrictEqual(
          { idle: session.idle, interval: session.interval, count: session.count },
          { idle: serverKeepalive.idleSeconds, interval: serverKeepalive.intervalSeconds, count: serverKeepalive.count }
        )
      }
      assert.isAtMost(serverKeepalive.idleSeconds + serverKeepalive.intervalSeconds * serverKeepalive.count, 30)
    }), { timeout: 60_000 })

  it.scopedLive("an operator's own options in the URL still apply, and win where they set the same thing", () =>
    Effect.gen(function*() {
      const context = yield* productDatabase((url) =>
        url.searchParams.set("options", "-c statement_timeout=4321 -c tcp_keepalives_idle=42")
      )
      const session = yield* showAll.pipe(Effect.provide(context))
      assert.deepStrictEqual(session, {
        idle: 42,
        interval: serverKeepalive.intervalSeconds,
        count: serverKeepalive.count,
        statementTimeout: "4321ms"
      })
    }), { timeout: 60_000 })

  // No keepalive on a socket (SHOW reads 0 there), but the URL form must still start the runner.
  it.scopedLive("a runner reaches Postgres through its Unix socket, the URL in the form only node-pg reads", () =>
    Effect.gen(function*() {
      const settings = yield* freshSettings("pg")
      if (settings.database._tag !== "Postgres") return yield* Effect.dieMessage("expected Postgres settings")
      const tcp = new URL(Redacted.value(settings.database.url))
      const socketUrl = `postgres://${userInfo().username}@${tcp.pathname}?host=${socketDirectory}`
      const viaSocket = { ...settings, database: { _tag: "Postgres" as const, url: Redacted.make(socketUrl) } }
      const context = yield* Layer.build(DatabaseLive.pipe(Layer.provide(configLayer(viaSocket))))
      const rows = yield* Effect.flatMap(SqlClient.SqlClient, (sql) =>
        sql<{ db: string; socket: boolean }>`SELECT current_database() AS db, inet_client_addr() IS NULL AS socket`
      ).pipe(Effect.provide(context))
      assert.deepStrictEqual(rows[0], { db: tcp.pathname.slice(1), socket: true })
    }), { timeout: 60_000 })
})

describe("connectionSettings", () => {
  it("puts the keepalive first and the URL's options after it, taking them out of the URL", () => {
    const { connectionString, options } = connectionSettings(
      "postgres://bot@db.internal:5432/bot?options=-c%20statement_timeout%3D5000&sslmode=require"
    )
    assert.strictEqual(connectionString, "postgres://bot@db.internal:5432/bot?sslmode=require")
    assert.strictEqual(
      options,
      "-c tcp_keepalives_idle=10 -c tcp_keepalives_interval=5 -c tcp_keepalives_count=3 -c statement_timeout=5000"
    )
  })

  it("passes a URL that only node-pg reads (a socket host) as it is, with the keepalive", () => {
    const url = "postgres://bot@/bot?host=/var/run/postgresql"
    assert.deepStrictEqual(connectionSettings(url), {
      connectionString: url,
      options: "-c tcp_keepalives_idle=10 -c tcp_keepalives_interval=5 -c tcp_keepalives_count=3"
    })
  })

  it("leaves a URL without options as it is", () => {
    const url = "postgres://127.0.0.1:5432/postgres"
    assert.strictEqual(connectionSettings(url).connectionString, url)
  })
})
