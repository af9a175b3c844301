/**
 * The retention job (src/storage/retention.ts) deletes job events older than
 * JOB_EVENTS_RETENTION every hour; an index on the event time lets each batch read only the
 * old rows instead of scanning every event.
 */
import { SqlClient } from "@effect/sql"
import { Effect } from "effect"

export default Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  yield* sql.unsafe(`CREATE INDEX IF NOT EXISTS job_events_at ON job_events (at)`)
})
