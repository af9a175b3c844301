/**
 * The application tables, on both dialects. Timestamps use
 * CURRENT_TIMESTAMP so the same INSERT/UPDATE statements run on SQLite and Postgres.
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

  yield* sql.unsafe(`CREATE TABLE IF NOT EXISTS users (
    id ${id} PRIMARY KEY,
    first_name TEXT,
    username TEXT,
    language TEXT,
    created_at ${timestamp} NOT NULL DEFAULT CURRENT_TIMESTAMP,
    free_tokens_granted_at ${timestamp},
    blocked_at ${timestamp}
  )`)

  // Append-only. Each row names the operation that caused it (op_key); the partial and
  // composite unique indexes below are the at-most-once rules, enforced by the database.
  yield* sql.unsafe(`CREATE TABLE IF NOT EXISTS credit_ledger (
    id ${serial},
    user_id ${id} NOT NULL REFERENCES users(id),
    op_key TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL CHECK (kind IN ('free_grant', 'reserve', 'capture', 'refund', 'grant', 'adjust', 'payment_refund')),
    delta_credits INTEGER NOT NULL,
    delta_free INTEGER NOT NULL,
    job_id TEXT,
    payment_id TEXT,
    admin_id ${id},
    note TEXT,
    created_at ${timestamp} NOT NULL DEFAULT CURRENT_TIMESTAMP
  )`)
  yield* sql.unsafe(`CREATE UNIQUE INDEX IF NOT EXISTS credit_ledger_job_kind ON credit_ledger (job_id, kind)`)
  yield* sql.unsafe(`CREATE UNIQUE INDEX IF NOT EXISTS credit_ledger_payment_kind ON credit_ledger (payment_id, kind)`)
  yield* sql.unsafe(
    `CREATE UNIQUE INDEX IF NOT EXISTS credit_ledger_one_free_grant ON credit_ledger (user_id) WHERE kind = 'free_grant'`
  )
  yield* sql.unsafe(
    `CREATE UNIQUE INDEX IF NOT EXISTS credit_ledger_one_settlement ON credit_ledger (job_id) WHERE kind IN ('capture', 'refund')`
  )
  yield* sql.unsafe(`CREATE INDEX IF NOT EXISTS credit_ledger_user ON credit_ledger (user_id)`)

  yield* sql.unsafe(`CREATE TABLE IF NOT EXISTS balances (
    user_id ${id} PRIMARY KEY REFERENCES users(id),
    credits INTEGER NOT NULL CHECK (credits >= 0),
    free_tokens INTEGER NOT NULL CHECK (free_tokens >= 0),
    updated_at ${timestamp} NOT NULL DEFAULT CURRENT_TIMESTAMP
  )`)

  yield* sql.unsafe(`CREATE TABLE IF NOT EXISTS jobs (
    id TEXT PRIMARY KEY,
    user_id ${id} NOT NULL REFERENCES users(id),
    chat_id ${id} NOT NULL,
    request_key TEXT NOT NULL UNIQUE,
    state TEXT NOT NULL CHECK (state IN ('queued', 'submitting', 'polling', 'delivering', 'delivered', 'refunded', 'failed')),
    model TEXT NOT NULL,
    prompt TEXT NOT NULL,
    cost INTEGER NOT NULL,
    photo_file_id TEXT NOT NULL,
    kie_file_url TEXT,
    kie_task_id TEXT,
    attempts INTEGER NOT NULL DEFAULT 0,
    result_url TEXT,
    error_class TEXT,
    error_detail TEXT,
    progress_message_id ${id},
    created_at ${timestamp} NOT NULL DEFAULT CURRENT_TIMESTAMP,
    updated_at ${timestamp} NOT NULL DEFAULT CURRENT_TIMESTAMP,
    delivered_at ${timestamp}
  )`)
  yield* sql.unsafe(`CREATE INDEX IF NOT EXISTS jobs_user ON jobs (user_id)`)
  yield* sql.unsafe(`CREATE INDEX IF NOT EXISTS jobs_state ON jobs (state)`)

  yield* sql.unsafe(`CREATE TABLE IF NOT EXISTS job_events (
    id ${serial},
    job_id TEXT NOT NULL REFERENCES jobs(id),
    at ${timestamp} NOT NULL DEFAULT CURRENT_TIMESTAMP,
    from_state TEXT,
    to_state TEXT NOT NULL,
    detail TEXT
  )`)
  yield* sql.unsafe(`CREATE INDEX IF NOT EXISTS job_events_job ON job_events (job_id)`)

  yield* sql.unsafe(`CREATE TABLE IF NOT EXISTS payments (
    telegram_payment_charge_id TEXT PRIMARY KEY,
    user_id ${id} NOT NULL REFERENCES users(id),
    package TEXT NOT NULL,
    stars INTEGER NOT NULL,
    credits INTEGER NOT NULL,
    state TEXT NOT NULL,
    created_at ${timestamp} NOT NULL DEFAULT CURRENT_TIMESTAMP,
    refunded_at ${timestamp}
  )`)
})
