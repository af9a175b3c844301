/**
 * The support relay and data deletion (src/telegram/features/support.ts):
 * - `support_requests`: users whose next message goes to the admins (one open request each;
 *   `opened_at_ms` from the Effect Clock, so an old one lapses);
 * - `support_relays`: each copy of a user's message the bot sent an admin, so that the admin's
 *   Telegram reply to it finds the user; `request_key` names the user's message, and one copy per
 *   admin is the rule that keeps a retried relay from sending it twice;
 * - `users.forgotten_at`: when an admin's /forget last deleted the user's data.
 * No message text is stored: the relay keeps who wrote, not what.
 */
import { SqlClient } from "@effect/sql"
import { Effect } from "effect"

export default Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  const bigint = sql.onDialectOrElse({ pg: () => "BIGINT", orElse: () => "INTEGER" })
  const timestamp = sql.onDialectOrElse({ pg: () => "TIMESTAMPTZ", orElse: () => "TEXT" })
  yield* sql.unsafe(`CREATE TABLE IF NOT EXISTS support_requests (
    user_id ${bigint} PRIMARY KEY,
    opened_at_ms ${bigint} NOT NULL
  )`)
  yield* sql.unsafe(`CREATE TABLE IF NOT EXISTS support_relays (
    admin_chat_id ${bigint} NOT NULL,
    admin_message_id ${bigint} NOT NULL,
    user_id ${bigint} NOT NULL,
    request_key TEXT NOT NULL,
    created_at ${timestamp} NOT NULL DEFAULT CURRENT_TIMESTAMP,
    PRIMARY KEY (admin_chat_id, admin_message_id)
  )`)
  yield* sql.unsafe(`CREATE UNIQUE INDEX IF NOT EXISTS support_relays_once ON support_relays (request_key, admin_chat_id)`)
  yield* sql.unsafe(`CREATE INDEX IF NOT EXISTS support_relays_user ON support_relays (user_id)`)
  yield* sql.unsafe(`ALTER TABLE users ADD COLUMN forgotten_at ${timestamp}`)
})
