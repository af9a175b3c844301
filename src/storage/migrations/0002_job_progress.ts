/**
 * What a job needs to resume exactly where it stopped: its clock-based deadlines (epoch
 * milliseconds from the Effect Clock, so tests can drive them), the message ids it already
 * sent, and the outcome it decided on before acting on it.
 */
import { SqlClient } from "@effect/sql"
import { Effect } from "effect"

export default Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  const bigint = sql.onDialectOrElse({ pg: () => "BIGINT", orElse: () => "INTEGER" })
  for (
    const column of [
      `duration_seconds INTEGER NOT NULL DEFAULT 5`,
      `language TEXT`,
      `created_at_ms ${bigint}`,
      `poll_deadline_ms ${bigint}`,
      `kie_succeeded_at_ms ${bigint}`,
      `video_message_id ${bigint}`,
      `outcome TEXT CHECK (outcome IN ('deliver', 'refund'))`
    ]
  ) {
    yield* sql.unsafe(`ALTER TABLE jobs ADD COLUMN ${column}`)
  }
})
