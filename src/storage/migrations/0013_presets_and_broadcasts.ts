/**
 * One-tap presets and broadcasts.
 *
 * `preset_offers`: a photo sent without a caption and the price its preset menu showed;
 * a tap starts the job from this row (keyed by the photo's chat and message), at that price.
 *
 * `broadcasts` and `broadcast_recipients`: an admin's campaign (its content, its state) and
 * each user it goes to, with that user's own state. A recipient is `pending` until the
 * sender claims it (`sending`, with the run that claimed it), and then `sent`, `blocked`
 * (Telegram answered 403) or `failed`, written with the send's result.
 */
import { SqlClient } from "@effect/sql"
import { Effect } from "effect"

export default Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  const id = sql.onDialectOrElse({ pg: () => "BIGINT", orElse: () => "INTEGER" })
  const serial = sql.onDialectOrElse({
    pg: () => "BIGSERIAL PRIMARY KEY",
    orElse: () => "INTEGER PRIMARY KEY AUTOINCREMENT"
  })
  const timestamp = sql.onDialectOrElse({ pg: () => "TIMESTAMPTZ", orElse: () => "TEXT" })

  yield* sql.unsafe(`CREATE TABLE IF NOT EXISTS preset_offers (
    chat_id ${id} NOT NULL,
    message_id ${id} NOT NULL,
    user_id ${id} NOT NULL,
    file_id TEXT NOT NULL,
    file_size ${id},
    model TEXT NOT NULL,
    duration_seconds INTEGER NOT NULL,
    cost INTEGER NOT NULL,
    created_at ${timestamp} NOT NULL DEFAULT CURRENT_TIMESTAMP,
    PRIMARY KEY (chat_id, message_id)
  )`)

  yield* sql.unsafe(`CREATE TABLE IF NOT EXISTS broadcasts (
    id ${serial},
    admin_id ${id} NOT NULL,
    admin_chat_id ${id} NOT NULL,
    source_key TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL CHECK (kind IN ('text', 'photo', 'video')),
    body TEXT NOT NULL,
    entities TEXT NOT NULL,
    file_id TEXT,
    buttons TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('draft', 'running', 'paused', 'cancelled', 'done')),
    recipients INTEGER NOT NULL DEFAULT 0,
    status_message_id ${id},
    created_at ${timestamp} NOT NULL DEFAULT CURRENT_TIMESTAMP,
    started_at ${timestamp},
    finished_at ${timestamp},
    reported_at ${timestamp}
  )`)

  yield* sql.unsafe(`CREATE TABLE IF NOT EXISTS broadcast_recipients (
    broadcast_id ${id} NOT NULL,
    user_id ${id} NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('pending', 'sending', 'sent', 'blocked', 'failed')),
    claimed_by TEXT,
    attempts INTEGER NOT NULL DEFAULT 0,
    message_id ${id},
    error TEXT,
    updated_at ${timestamp} NOT NULL DEFAULT CURRENT_TIMESTAMP,
    PRIMARY KEY (broadcast_id, user_id)
  )`)
  yield* sql.unsafe(
    `CREATE INDEX IF NOT EXISTS broadcast_recipients_state ON broadcast_recipients (broadcast_id, state, user_id)`
  )
})
