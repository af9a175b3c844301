/**
 * Updates set aside: an update whose handling failed the same way a few times is recorded
 * here and acknowledged, so that the user's later updates are handled (the bot apologises
 * to the user; `bot_updates_set_aside_total` counts them). `payload` is the update as
 * Telegram sent it (JSON), for an operator to read or replay; `detail` is the failure's
 * message without quoted values or secrets.
 */
import { SqlClient } from "@effect/sql"
import { Effect } from "effect"

export default Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  const id = sql.onDialectOrElse({ pg: () => "BIGINT", orElse: () => "INTEGER" })
  const timestamp = sql.onDialectOrElse({ pg: () => "TIMESTAMPTZ", orElse: () => "TEXT" })
  yield* sql.unsafe(`CREATE TABLE IF NOT EXISTS dead_letter_updates (
    update_id ${id} PRIMARY KEY,
    user_id ${id} NOT NULL,
    update_kind TEXT NOT NULL,
    failure_class TEXT NOT NULL CHECK (failure_class IN ('deterministic', 'unknown')),
    error_tag TEXT NOT NULL,
    error_code TEXT,
    detail TEXT NOT NULL,
    attempts INTEGER NOT NULL,
    payload TEXT NOT NULL,
    set_aside_at ${timestamp} NOT NULL DEFAULT CURRENT_TIMESTAMP
  )`)
  yield* sql.unsafe(`CREATE INDEX IF NOT EXISTS dead_letter_updates_user ON dead_letter_updates (user_id)`)
})
