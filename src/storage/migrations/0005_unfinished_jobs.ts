/**
 * The job watchdog asks every minute for unfinished jobs whose row stopped changing; a
 * partial index keeps that question cheap however many finished jobs pile up.
 */
import { SqlClient } from "@effect/sql"
import { Effect } from "effect"

export default Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  yield* sql.unsafe(
    `CREATE INDEX IF NOT EXISTS jobs_unfinished_by_update ON jobs (updated_at)
      WHERE state NOT IN ('delivered', 'refunded', 'failed')`
  )
})
