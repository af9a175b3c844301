/**
 * Passivated jobs (src/jobs/job-waker.ts): each unfinished job carries the time it is next
 * due (`due_at_ms`) and a `version` that every step's write checks and bumps, so one step
 * at a time moves a job however many wake-ups reach it. `polls`, `failed_polls`, `paused`
 * and `progress_at_ms` are the state machine's memory (src/jobs/job-machine.ts), kept in the row
 * because nothing stays in memory between steps. Jobs unfinished at the upgrade are due now.
 */
import { SqlClient } from "@effect/sql"
import { Effect } from "effect"

export default Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  yield* sql.unsafe(`ALTER TABLE jobs ADD COLUMN version INTEGER NOT NULL DEFAULT 0`)
  yield* sql.unsafe(`ALTER TABLE jobs ADD COLUMN due_at_ms BIGINT`)
  yield* sql.unsafe(`ALTER TABLE jobs ADD COLUMN polls INTEGER NOT NULL DEFAULT 0`)
  yield* sql.unsafe(`ALTER TABLE jobs ADD COLUMN failed_polls INTEGER NOT NULL DEFAULT 0`)
  yield* sql.unsafe(`ALTER TABLE jobs ADD COLUMN paused INTEGER NOT NULL DEFAULT 0`)
  yield* sql.unsafe(`ALTER TABLE jobs ADD COLUMN progress_at_ms BIGINT`)
  yield* sql.unsafe(`UPDATE jobs SET due_at_ms = 0 WHERE state NOT IN ('delivered', 'refunded', 'failed')`)
  yield* sql.unsafe(`CREATE INDEX IF NOT EXISTS jobs_due ON jobs (due_at_ms) WHERE due_at_ms IS NOT NULL`)
  // The watchdog that used it is gone.
  yield* sql.unsafe(`DROP INDEX IF EXISTS jobs_unfinished_by_update`)
})
