/**
 * Incremental payment reconciliation (src/payments/reconciliation.ts):
 * - `reconciliation_cursors`: where each check stopped, so a pass reads only what is new
 *   plus a look-back window instead of the whole history;
 * - `reconciliation_alerts`: when each disagreement was last reported, so one that persists
 *   is reported again once a day rather than every pass;
 * - `payments.refunding_at` (epoch ms): when a refund started, so one still in flight is
 *   not reported as stuck;
 * - an index on the paid grants, so the ledger check reads only them.
 */
import { SqlClient } from "@effect/sql"
import { Effect } from "effect"

export default Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  const bigint = sql.onDialectOrElse({ pg: () => "BIGINT", orElse: () => "INTEGER" })
  yield* sql.unsafe(`CREATE TABLE IF NOT EXISTS reconciliation_cursors (
    name TEXT PRIMARY KEY,
    position ${bigint} NOT NULL,
    marker TEXT
  )`)
  yield* sql.unsafe(`CREATE TABLE IF NOT EXISTS reconciliation_alerts (
    alert_key TEXT PRIMARY KEY,
    last_alerted_at ${bigint} NOT NULL
  )`)
  yield* sql.unsafe(`ALTER TABLE payments ADD COLUMN refunding_at ${bigint}`)
  yield* sql.unsafe(`CREATE INDEX IF NOT EXISTS payments_refunding ON payments (telegram_payment_charge_id) WHERE state = 'refunding'`)
  yield* sql.unsafe(`CREATE INDEX IF NOT EXISTS credit_ledger_paid_grants ON credit_ledger (id) WHERE kind = 'grant'`)
})
