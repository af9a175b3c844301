/**
 * Applies the numbered migrations in `./migrations` at start-up. The generic migrator of
 * `@effect/sql` needs only a SqlClient, so one runner serves both dialects; on Postgres an
 * advisory lock keeps runners that start together from migrating at the same time.
 */
import { Migrator, SqlClient } from "@effect/sql"
import { Effect, Layer, Scope } from "effect"
import appTables from "./migrations/0001_app_tables.js"
import jobProgress from "./migrations/0002_job_progress.js"
import botIntake from "./migrations/0003_bot_intake.js"
import analyticsViews from "./migrations/0004_analytics_views.js"
import unfinishedJobs from "./migrations/0005_unfinished_jobs.js"
import jobEventsByTime from "./migrations/0006_job_events_by_time.js"
import deadLetterUpdates from "./migrations/0007_dead_letter_updates.js"
import reconciliationCursors from "./migrations/0008_reconciliation_cursors.js"
import jobWakeUps from "./migrations/0009_job_wake_ups.js"
import telegramInbox from "./migrations/0010_telegram_inbox.js"
import support from "./migrations/0011_support.js"
import invitationsAndPromoCodes from "./migrations/0012_invitations_and_promo_codes.js"
import presetsAndBroadcasts from "./migrations/0013_presets_and_broadcasts.js"
import jobLeases from "./migrations/0014_job_leases.js"

const runMigrations = Migrator.make({})({
  loader: Migrator.fromRecord({
    "0001_app_tables": appTables,
    "0002_job_progress": jobProgress,
    "0003_bot_intake": botIntake,
    "0004_analytics_views": analyticsViews,
    "0005_unfinished_jobs": unfinishedJobs,
    "0006_job_events_by_time": jobEventsByTime,
    "0007_dead_letter_updates": deadLetterUpdates,
    "0008_reconciliation_cursors": reconciliationCursors,
    "0009_job_wake_ups": jobWakeUps,
    "0010_telegram_inbox": telegramInbox,
    "0011_support": support,
    "0012_invitations_and_promo_codes": invitationsAndPromoCodes,
    "0013_presets_and_broadcasts": presetsAndBroadcasts,
    "0014_job_leases": jobLeases
  }),
  table: "app_migrations"
})

// An arbitrary constant that names "the app's migration lock" among advisory locks.
const MIGRATION_LOCK_ID = 7_340_113

/**
 * Runs `effect` while holding the app's migration lock on Postgres (on SQLite, with one
 * runner, as it is). The lock is a session lock on a reserved connection, released when
 * `effect` ends, while whatever `effect` builds in the caller's scope lives on.
 */
export const underMigrationLock = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.flatMap(SqlClient.SqlClient, (sql) =>
    sql.onDialectOrElse({
      // Not a transaction: migrators run statements of their own (and expect failures on a
      // fresh database), which an enclosing transaction would abort.
      pg: () =>
        Effect.acquireUseRelease(
          Scope.make(),
          (lockScope) =>
            Effect.gen(function*() {
              const connection = yield* Scope.extend(sql.reserve, lockScope)
              yield* connection.executeRaw("SELECT pg_advisory_lock($1)", [MIGRATION_LOCK_ID])
              return yield* effect.pipe(
                Effect.ensuring(Effect.ignore(connection.executeRaw("SELECT pg_advisory_unlock($1)", [MIGRATION_LOCK_ID])))
              )
            }),
          (lockScope, exit) => Scope.close(lockScope, exit)
        ),
      orElse: () => effect
    }))

export const migrate = underMigrationLock(runMigrations).pipe(Effect.withSpan("Storage.migrate"))

export const MigrationsLive = Layer.effectDiscard(migrate.pipe(Effect.orDie))
