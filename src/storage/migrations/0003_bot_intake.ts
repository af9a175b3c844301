/**
 * The bot's own state: where the Telegram poller stopped (so the next poller, on any
 * runner, resumes there) and each user's chosen model and duration.
 */
import { SqlClient } from "@effect/sql"
import { Effect } from "effect"

export default Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  const id = sql.onDialectOrElse({ pg: () => "BIGINT", orElse: () => "INTEGER" })
  const timestamp = sql.onDialectOrElse({ pg: () => "TIMESTAMPTZ", orElse: () => "TEXT" })
  yield* sql.unsafe(`CREATE TABLE IF NOT EXISTS telegram_offsets (
    bot_id ${id} PRIMARY KEY,
    next_offset ${id} NOT NULL,
    updated_at ${timestamp} NOT NULL DEFAULT CURRENT_TIMESTAMP
  )`)
  yield* sql.unsafe(`CREATE TABLE IF NOT EXISTS user_settings (
    user_id ${id} PRIMARY KEY,
    model TEXT NOT NULL,
    duration_seconds INTEGER NOT NULL,
    updated_at ${timestamp} NOT NULL DEFAULT CURRENT_TIMESTAMP
  )`)
})
