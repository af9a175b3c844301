import { MachineId, ShardingConfig, Snowflake, SqlMessageStorage } from "@effect/cluster"
import { SqlClient } from "@effect/sql"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Either, Layer, Option } from "effect"
import { AppConfig, describeConfigError } from "../../src/config/index.js"
import { parseLongDuration } from "../../src/config/parsers.js"
import { DatabaseLive } from "../../src/storage/database.js"
import { pruneOnce, snowflakeBefore } from "../../src/storage/retention.js"
import { configLayer, dialects, freshSettings } from "../support/database.js"

const day = 24 * 60 * 60 * 1000
const settings = { messageAgeMs: 3 * day, jobEventsAgeMs: Option.some(90 * day), intervalMs: 60 * 60 * 1000 }

/** The app's tables and the cluster's message tables, on a fresh database of the dialect. */
const freshDatabase = (dialect: "sqlite" | "pg") =>
  Effect.gen(function*() {
    const config = yield* freshSettings(dialect)
    return Layer.merge(
      DatabaseLive,
      Layer.orDie(SqlMessageStorage.layer).pipe(Layer.provide(ShardingConfig.layer()), Layer.provide(DatabaseLive))
    ).pipe(Layer.provide(configLayer(config)))
  })

let sequence = 0
const idAt = (ms: number) => Snowflake.make({ timestamp: ms, machineId: MachineId.make(3), sequence: sequence++ })

const insertMessage = (id: bigint, options: { processed: boolean; kind?: number; requestId?: bigint; tag: string }) =>
  Effect.flatMap(SqlClient.SqlClient, (sql) =>
    sql`INSERT INTO cluster_messages
      (id, message_id, shard_id, entity_type, entity_id, kind, tag, payload, headers, processed, request_id)
      VALUES (${id}, ${`key-${id}`}, 'default:1', 'Job', 'job-1', ${options.kind ?? 0}, ${options.tag}, '{}', '{}',
        ${sql.literal(options.processed ? "TRUE" : "FALSE")}, ${options.requestId ?? id})`)

const insertReply = (requestId: bigint, at: number) =>
  Effect.flatMap(SqlClient.SqlClient, (sql) =>
    sql`INSERT INTO cluster_replies (id, kind, request_id, payload, sequence)
      VALUES (${idAt(at)}, 0, ${requestId}, '{"_tag":"Success"}', NULL)`)

const remaining = (table: "cluster_messages" | "cluster_replies" | "telegram_inbox", column: "id" | "request_id" | "update_id") =>
  Effect.flatMap(SqlClient.SqlClient, (sql) =>
    sql<{ id: string }>`SELECT CAST(${sql(column)} AS TEXT) AS id FROM ${sql(table)} ORDER BY ${sql(column)}`
  ).pipe(Effect.map((rows) => rows.map((row) => row.id)))

/** An expression for "now minus `days`" in the database's own clock and format. */
const daysAgo = (sql: SqlClient.SqlClient, days: number) =>
  sql.onDialectOrElse({
    pg: () => sql`CURRENT_TIMESTAMP - make_interval(days => ${days})`,
    orElse: () => sql`datetime('now', ${`-${days} days`})`
  })

const count = (table: string) =>
  Effect.flatMap(SqlClient.SqlClient, (sql) => sql<{ n: number }>`SELECT CAST(COUNT(*) AS INTEGER) AS n FROM ${sql(table)}`)
    .pipe(Effect.map((rows) => Number(rows[0]!.n)))

describe("retention settings", () => {
  it("reads the long durations operators write", () => {
    assert.strictEqual(parseLongDuration("3 days"), 3 * day)
    assert.strictEqual(parseLongDuration("1 hour"), 60 * 60 * 1000)
    assert.strictEqual(parseLongDuration("72h"), 3 * day)
    assert.strictEqual(parseLongDuration("90m"), 90 * 60 * 1000)
    assert.strictEqual(parseLongDuration("2 weeks"), undefined)
  })

  it.effect("defaults to 3 days, 90 days of job events and an hourly pass; a bad value is one line naming the variable", () =>
    Effect.gen(function*() {
      const defaults = yield* AppConfig.fromEnv({})
      assert.deepStrictEqual(defaults.retention, {
        messageAgeMs: 3 * day,
        jobEventsAgeMs: Option.some(90 * day),
        intervalMs: 60 * 60 * 1000
      })
      const forever = yield* AppConfig.fromEnv({ JOB_EVENTS_RETENTION: "forever", RETENTION_AGE: "12h" })
      assert.deepStrictEqual(forever.retention.jobEventsAgeMs, Option.none())
      assert.strictEqual(forever.retention.messageAgeMs, 12 * 60 * 60 * 1000)
      for (
        const [env, expected] of [
          [{ RETENTION_AGE: "10m" }, /^Invalid configuration: RETENTION_AGE must be a duration from 1 hour to 3650 days/],
          [{ RETENTION_INTERVAL: "soon" }, /^Invalid configuration: RETENTION_INTERVAL must be a duration from 1 minute to 7 days/],
          [{ JOB_EVENTS_RETENTION: "2 hours" }, /^Invalid configuration: JOB_EVENTS_RETENTION must be a duration from 1 to 3650 days/]
        ] as const
      ) {
        const result = yield* Effect.either(AppConfig.fromEnv(env))
        assert.isTrue(Either.isLeft(result))
        if (Either.isLeft(result)) assert.match(describeConfigError(result.left), expected)
      }
    }))

  it("a snowflake cutoff orders by send time, and a cutoff before the cluster epoch matches nothing", () => {
    const at = Date.UTC(2026, 5, 1)
    assert.isTrue(idAt(at - 1) < snowflakeBefore(at))
    assert.isFalse(idAt(at) < snowflakeBefore(at))
    assert.strictEqual(snowflakeBefore(0), BigInt(0))
  })
})

describe.each(dialects)("retention on %s", (dialect) => {
  it.live("deletes old processed messages, their replies and old events of finished jobs; keeps everything else", () =>
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      const now = Date.now()
      const old = now - 10 * day
      const recent = now - 60 * 60 * 1000

      // Old and processed (a request, and the interrupt that was answered with it): gone.
      const oldProcessed = [idAt(old), idAt(old + 1), idAt(old + 2)]
      for (const id of oldProcessed) {
        yield* insertMessage(id, { processed: true, tag: "Start" })
        yield* insertReply(id, old + 3)
      }
      const oldInterrupt = idAt(old + 4)
      yield* insertMessage(oldInterrupt, { processed: true, kind: 2, requestId: oldProcessed[0]!, tag: "Start" })
      // Old but unprocessed: a job's keep-alive, and a request a crash left unanswered with a chunk reply.
      const keepAlive = idAt(old + 5)
      yield* insertMessage(keepAlive, { processed: false, tag: "KeepAlive" })
      const unanswered = idAt(old + 6)
      yield* insertMessage(unanswered, { processed: false, tag: "Start" })
      yield* insertReply(unanswered, old + 7)
      // A reply whose request an earlier, interrupted pass already deleted.
      const orphanRequest = idAt(old + 8)
      yield* insertReply(orphanRequest, old + 9)
      // Recent, processed and not: kept.
      const recentProcessed = idAt(recent)
      yield* insertMessage(recentProcessed, { processed: true, tag: "Start" })
      yield* insertReply(recentProcessed, recent + 1)
      const recentUnprocessed = idAt(recent + 2)
      yield* insertMessage(recentUnprocessed, { processed: false, tag: "Start" })

      // A delivered job and a job still polling, each with a 100-day-old and a fresh event;
      // old money rows beside them.
      yield* sql`INSERT INTO users (id, first_name) VALUES (501, 'Ann')`
      for (const [jobId, state] of [["job-done", "delivered"], ["job-busy", "polling"]] as const) {
        yield* sql`INSERT INTO jobs (id, user_id, chat_id, request_key, state, model, prompt, cost, photo_file_id)
          VALUES (${jobId}, 501, 501, ${`rk-${jobId}`}, ${state}, 'm', 'p', 1, 'f')`
        yield* sql`INSERT INTO job_events (job_id, at, from_state, to_state) VALUES (${jobId}, ${
          daysAgo(sql, 100)
        }, NULL, 'queued')`
        yield* sql`INSERT INTO job_events (job_id, from_state, to_state) VALUES (${jobId}, 'queued', ${state})`
      }
      yield* sql`INSERT INTO credit_ledger (user_id, op_key, kind, delta_credits, delta_free, created_at)
        VALUES (501, 'free:501', 'free_grant', 0, 2, ${daysAgo(sql, 400)})`
      yield* sql`INSERT INTO payments (telegram_payment_charge_id, user_id, package, stars, credits, state, created_at)
        VALUES ('charge-1', 501, '5', 250, 5, 'credited', ${daysAgo(sql, 400)})`

      // Handled updates: the old ones go; an old one never handled and a recent one stay.
      const inboxRow = (updateId: number, handledAtMs: number | null) =>
        sql`INSERT INTO telegram_inbox (update_id, user_id, payload, received_at_ms, handled_at_ms)
          VALUES (${updateId}, 501, '{}', ${old}, ${handledAtMs})`
      yield* inboxRow(1, old)
      yield* inboxRow(2, old + 1)
      yield* inboxRow(3, null)
      yield* inboxRow(4, recent)

      // Batches of two, so the backlog takes several statements.
      const report = yield* pruneOnce(settings, 2)

      assert.deepStrictEqual(report, { messages: 4, replies: 4, inbox: 2, jobEvents: 1 })
      assert.deepStrictEqual(yield* remaining("telegram_inbox", "update_id"), ["3", "4"])
      assert.deepStrictEqual(
        yield* remaining("cluster_messages", "id"),
        [keepAlive, unanswered, recentProcessed, recentUnprocessed].map(String)
      )
      assert.deepStrictEqual(yield* remaining("cluster_replies", "request_id"), [unanswered, recentProcessed].map(String))
      const events = yield* sql<{ job_id: string; to_state: string }>`
        SELECT job_id, to_state FROM job_events ORDER BY job_id, id`
      assert.deepStrictEqual(events.map((e) => `${e.job_id}:${e.to_state}`), [
        "job-busy:queued",
        "job-busy:polling",
        "job-done:delivered"
      ])
      assert.strictEqual(yield* count("jobs"), 2)
      assert.strictEqual(yield* count("credit_ledger"), 1)
      assert.strictEqual(yield* count("payments"), 1)
      assert.strictEqual(yield* count("users"), 1)

      // A second pass finds nothing; "forever" keeps every event.
      assert.deepStrictEqual(yield* pruneOnce(settings, 2), { messages: 0, replies: 0, inbox: 0, jobEvents: 0 })
      yield* sql`INSERT INTO job_events (job_id, at, from_state, to_state) VALUES ('job-done', ${
        daysAgo(sql, 200)
      }, NULL, 'queued')`
      assert.strictEqual((yield* pruneOnce({ ...settings, jobEventsAgeMs: Option.none() })).jobEvents, 0)
      assert.strictEqual(yield* count("job_events"), 4)
    }).pipe(Effect.provide(Layer.unwrapScoped(freshDatabase(dialect))), Effect.scoped))
})
