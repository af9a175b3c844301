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
 *
 * Two analytics views (docs/analytics.md): `analytics_broadcasts`, one row per campaign with
 * its figures, and `analytics_presets_daily`, bare photos offered the menu and how many
 * became a video. On Postgres `bot_readonly` (migration 0004) may read them.
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

  const day = (column: string) =>
    sql.onDialectOrElse({ pg: () => `to_char(${column} AT TIME ZONE 'UTC', 'YYYY-MM-DD')`, orElse: () => `date(${column})` })
  const count = (condition: string) => `CAST(SUM(CASE WHEN ${condition} THEN 1 ELSE 0 END) AS INTEGER)`

  yield* sql.unsafe(`CREATE VIEW analytics_broadcasts AS
    SELECT b.id AS broadcast_id, ${day("b.created_at")} AS day, b.kind, b.state, b.recipients,
      ${count("r.state = 'sent'")} AS sent,
      ${count("r.state = 'blocked'")} AS blocked,
      ${count("r.state = 'failed'")} AS failed,
      ${count("r.state IN ('pending', 'sending')")} AS not_sent,
      ${count("r.attempts > 1")} AS resent
    FROM broadcasts b LEFT JOIN broadcast_recipients r ON r.broadcast_id = b.id
    GROUP BY b.id, b.created_at, b.kind, b.state, b.recipients`)

  // A preset's job has the photo's request key (src/telegram/features/generate.ts).
  yield* sql.unsafe(`CREATE VIEW analytics_presets_daily AS
    SELECT ${day("o.created_at")} AS day,
      CAST(COUNT(*) AS INTEGER) AS bare_photos,
      ${count("j.id IS NOT NULL")} AS started,
      ${count("j.state = 'delivered'")} AS delivered
    FROM preset_offers o LEFT JOIN jobs j ON j.request_key = 'msg:' || o.chat_id || ':' || o.message_id
    GROUP BY ${day("o.created_at")}`)

  yield* sql.onDialectOrElse({
    pg: () =>
      sql.unsafe(`DO $$ BEGIN
        IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'bot_readonly') THEN
          GRANT SELECT ON analytics_broadcasts, analytics_presets_daily TO bot_readonly;
        END IF;
      END $$`),
    orElse: () => Effect.void
  })
})
