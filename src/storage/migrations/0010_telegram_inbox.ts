/**
 * `telegram_inbox`: every update with a user, stored by the intake (one multi-row INSERT per
 * getUpdates batch, one row per webhook call) before Telegram is told it arrived. The
 * user's entity handles its rows in `update_id` order and marks each handled; a sweep wakes
 * the entities of rows left unhandled (src/telegram/intake/inbox-sweep.ts). Times are epoch
 * milliseconds, the same on both dialects.
 */
import { SqlClient } from "@effect/sql"
import { Effect } from "effect"

export default Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  const bigint = sql.onDialectOrElse({ pg: () => "BIGINT", orElse: () => "INTEGER" })
  yield* sql.unsafe(`CREATE TABLE IF NOT EXISTS telegram_inbox (
    update_id ${bigint} PRIMARY KEY,
    user_id ${bigint} NOT NULL,
    payload TEXT NOT NULL,
    received_at_ms ${bigint} NOT NULL,
    handled_at_ms ${bigint}
  )`)
  // The entity's read (its pending rows in order) and the sweep's (pending rows by age)
  // touch only unhandled rows; the retention's delete reads handled ones by age.
  yield* sql.unsafe(
    `CREATE INDEX IF NOT EXISTS telegram_inbox_pending ON telegram_inbox (user_id, update_id) WHERE handled_at_ms IS NULL`
  )
  yield* sql.unsafe(
    `CREATE INDEX IF NOT EXISTS telegram_inbox_waiting ON telegram_inbox (received_at_ms) WHERE handled_at_ms IS NULL`
  )
  yield* sql.unsafe(`CREATE INDEX IF NOT EXISTS telegram_inbox_handled ON telegram_inbox (handled_at_ms)`)
})
