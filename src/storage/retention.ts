/**
 * Retention: the cluster never deletes the messages and replies it has processed
 * (docs/architecture.md, "Cluster pitfalls"), so without this the message tables grow by a few rows per update and
 * per job forever. One runner at a time (a cluster Singleton) prunes, every
 * RETENTION_INTERVAL:
 * - processed cluster messages older than RETENTION_AGE, and their replies. Unprocessed
 *   messages are never touched, whatever their age: a job's keep-alive, a message waiting
 *   for its `deliver_at`, or one a crash left behind are all unprocessed.
 * - handled `telegram_inbox` rows older than RETENTION_AGE (an unhandled one is never touched);
 * - `job_events` of finished jobs older than JOB_EVENTS_RETENTION (unless "forever").
 * Money and job rows (`credit_ledger`, `balances`, `payments`, `jobs`, `users`) are never
 * deleted. The rows go in small batches, each its own short statement, so a large backlog
 * never holds a long lock on a table that intake writes to.
 *
 * Deleting a processed message ends the cluster's primary-key dedupe for it: the same
 * update or request sent again after RETENTION_AGE would run again. Nothing arrives that
 * late (Telegram keeps an update for 24 hours), and the rules that matter are enforced by
 * the database as well (ledger op_key, jobs.request_key, payments' charge id).
 */
import { MachineId, Singleton, Snowflake } from "@effect/cluster"
import { SqlClient } from "@effect/sql"
import { Cause, Clock, Effect, Layer, Metric, Option } from "effect"
import { AppConfig, type RetentionSettings } from "../config/index.js"

/** The tables of `SqlMessageStorage` under its default prefix (src/cluster/runner.ts sets none). */
const messagesTable = "cluster_messages"
const repliesTable = "cluster_replies"

export const retentionBatchSize = 1_000

export interface RetentionReport {
  readonly messages: number
  readonly replies: number
  readonly inbox: number
  readonly jobEvents: number
}

export const retentionRowsDeleted = Metric.counter("retention_rows_deleted_total", {
  description: "rows the retention job deleted, by table",
  incremental: true
})

/**
 * Cluster message ids are snowflakes: their top bits are the send time in milliseconds,
 * so "sent before the cutoff" is "id below the smallest snowflake of the cutoff
 * millisecond". The tables have no timestamp column of their own.
 */
export const snowflakeBefore = (cutoffMs: number): bigint =>
  cutoffMs <= Snowflake.constEpochMillis
    ? BigInt(0)
    : Snowflake.make({ timestamp: cutoffMs, machineId: MachineId.make(0), sequence: 0 })

/** Repeats one bounded DELETE … RETURNING until it removes fewer rows than a batch. */
const inBatches = <E, R>(batch: Effect.Effect<ReadonlyArray<unknown>, E, R>, batchSize: number) =>
  Effect.gen(function*() {
    let total = 0
    while (true) {
      const deleted = (yield* batch).length
      total += deleted
      if (deleted < batchSize) return total
      // Lets intake's statements in between batches (SQLite has one writer at a time).
      yield* Effect.yieldNow()
    }
  })

/**
 * /forget (src/users/forget-user.ts): the user's handled updates in the inbox hold what the
 * user wrote, so they go at once rather than after RETENTION_AGE. So do the processed
 * `HandleUpdate` cluster messages (with their replies) that intake wrote before the inbox.
 * An unhandled update stays: it is the one being handled, or one still to come.
 */
export const forgetProcessedUpdates = (entityType: string, entityId: string) =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const handled = yield* sql<{ update_id: unknown }>`
      DELETE FROM telegram_inbox WHERE user_id = ${Number(entityId)} AND handled_at_ms IS NOT NULL RETURNING update_id`
    const gone = yield* sql<{ id: string | number | bigint }>`
      DELETE FROM ${sql(messagesTable)}
      WHERE entity_type = ${entityType} AND entity_id = ${entityId} AND tag = 'HandleUpdate' AND processed = TRUE
      RETURNING id`
    for (let i = 0; i < gone.length; i += retentionBatchSize) {
      const ids = gone.slice(i, i + retentionBatchSize).map((row) => String(row.id))
      yield* sql`DELETE FROM ${sql(repliesTable)} WHERE ${sql.in("request_id", ids)}`
    }
    return handled.length + gone.length
  })

/** One pass over every table with a retention; returns how many rows each lost. */
export const pruneOnce = (settings: RetentionSettings, batchSize = retentionBatchSize) =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const now = yield* Clock.currentTimeMillis
    const before = snowflakeBefore(now - settings.messageAgeMs)

    // Replies first would leave a window where a processed message has no reply; the
    // other order leaves only orphan replies, which the second statement removes (also
    // those left by an interrupted earlier pass).
    const messages = yield* inBatches(
      sql`DELETE FROM ${sql(messagesTable)} WHERE id IN (
        SELECT id FROM ${sql(messagesTable)}
        WHERE processed = TRUE AND id < ${before}
        ORDER BY id LIMIT ${batchSize}
      ) RETURNING 1 AS gone`,
      batchSize
    )
    const replies = yield* inBatches(
      sql`DELETE FROM ${sql(repliesTable)} WHERE id IN (
        SELECT r.id FROM ${sql(repliesTable)} r
        WHERE r.request_id < ${before}
          AND NOT EXISTS (SELECT 1 FROM ${sql(messagesTable)} m WHERE m.id = r.request_id)
        ORDER BY r.request_id LIMIT ${batchSize}
      ) RETURNING 1 AS gone`,
      batchSize
    )

    const inbox = yield* inBatches(
      sql`DELETE FROM telegram_inbox WHERE update_id IN (
        SELECT update_id FROM telegram_inbox
        WHERE handled_at_ms < ${Math.floor(now - settings.messageAgeMs)}
        ORDER BY handled_at_ms LIMIT ${batchSize}
      ) RETURNING 1 AS gone`,
      batchSize
    )

    const jobEvents = yield* Option.match(settings.jobEventsAgeMs, {
      onNone: () => Effect.succeed(0),
      onSome: (ageMs) => {
        // Database time, as `at` is written with CURRENT_TIMESTAMP.
        const cutoff = sql.onDialectOrElse({
          pg: () => sql`CURRENT_TIMESTAMP - make_interval(secs => ${ageMs / 1000})`,
          orElse: () => sql`datetime('now', ${`-${Math.ceil(ageMs / 1000)} seconds`})`
        })
        return inBatches(
          sql`DELETE FROM job_events WHERE id IN (
            SELECT e.id FROM job_events e JOIN jobs j ON j.id = e.job_id
            WHERE j.state IN ('delivered', 'refunded', 'failed') AND e.at < ${cutoff}
            ORDER BY e.at LIMIT ${batchSize}
          ) RETURNING 1 AS gone`,
          batchSize
        )
      }
    })

    yield* Effect.all([
      Metric.incrementBy(Metric.tagged(retentionRowsDeleted, "table", messagesTable), messages),
      Metric.incrementBy(Metric.tagged(retentionRowsDeleted, "table", repliesTable), replies),
      Metric.incrementBy(Metric.tagged(retentionRowsDeleted, "table", "telegram_inbox"), inbox),
      Metric.incrementBy(Metric.tagged(retentionRowsDeleted, "table", "job_events"), jobEvents)
    ], { discard: true })
    const report: RetentionReport = { messages, replies, inbox, jobEvents }
    yield* Effect.logInfo(
      `retention pass: deleted ${messages} processed cluster messages, ${replies} replies, ${inbox} handled updates, ` +
        `${jobEvents} job events`
    ).pipe(Effect.annotateLogs({ ...report }))
    return report
  }).pipe(Effect.withSpan("Retention.pruneOnce"))

/**
 * A pass at start-up and every RETENTION_INTERVAL after, on exactly one runner. A failed
 * pass (the database away for a moment) is logged and the next one tries again.
 */
export const RetentionLive = Layer.unwrapEffect(
  Effect.map(AppConfig, (config) =>
    Singleton.make(
      "storage-retention",
      Effect.gen(function*() {
        while (true) {
          yield* pruneOnce(config.retention).pipe(
            Effect.catchAllCause((cause) =>
              Cause.isInterruptedOnly(cause) ? Effect.failCause(cause) : Effect.logError("retention pass failed", cause)
            )
          )
          yield* Effect.sleep(config.retention.intervalMs)
        }
      })
    ))
)
