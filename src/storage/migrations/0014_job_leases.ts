/**
 * A job's due time is either a wake-up it asked for (the next poll, a backoff) or a lease:
 * while a step works on the job, its row says "not due" for a minute, so that a step that
 * dies with its runner is taken up again when the lease runs out. `leased_at_ms` marks the
 * second kind, with the time the lease was taken, so that when a runner is gone its leases
 * can end at once (src/jobs/job-waker.ts) without touching the wake-ups jobs asked for.
 */
import { SqlClient } from "@effect/sql"
import { Effect } from "effect"

export default Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  yield* sql.unsafe(`ALTER TABLE jobs ADD COLUMN leased_at_ms BIGINT`)
  yield* sql.unsafe(`CREATE INDEX IF NOT EXISTS jobs_leased ON jobs (leased_at_ms) WHERE leased_at_ms IS NOT NULL`)
})
