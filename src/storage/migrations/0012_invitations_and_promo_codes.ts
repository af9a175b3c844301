/**
 * Invitations and promo codes (docs/architecture.md, "Invitations and promo codes"): their
 * tables, two more ledger kinds, and their analytics views (docs/analytics.md).
 *
 * The ledger's kind is a CHECK constraint. Postgres replaces it in place; SQLite cannot
 * alter a constraint, so the table is rebuilt with its rows and ids. `legacy_alter_table`
 * keeps the RENAME from re-checking the views that name `credit_ledger` (they are stored as
 * text and read the new table by the same name).
 */
import { SqlClient } from "@effect/sql"
import { Effect } from "effect"

const growthViews = [
  "analytics_referrals_daily",
  "analytics_promo_codes",
  "analytics_promo_redemptions_daily"
] as const

const kinds = "'free_grant', 'reserve', 'capture', 'refund', 'grant', 'adjust', 'payment_refund', 'referral_bonus', 'promo'"

export default Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  const id = sql.onDialectOrElse({ pg: () => "BIGINT", orElse: () => "INTEGER" })
  const timestamp = sql.onDialectOrElse({ pg: () => "TIMESTAMPTZ", orElse: () => "TEXT" })
  const day = (column: string) =>
    sql.onDialectOrElse({
      pg: () => `to_char(${column} AT TIME ZONE 'UTC', 'YYYY-MM-DD')`,
      orElse: () => `date(${column})`
    })
  const int = (expression: string) => `CAST(${expression} AS INTEGER)`

  yield* sql.onDialectOrElse({
    pg: () =>
      Effect.gen(function*() {
        yield* sql.unsafe(`ALTER TABLE credit_ledger DROP CONSTRAINT IF EXISTS credit_ledger_kind_check`)
        yield* sql.unsafe(`ALTER TABLE credit_ledger ADD CONSTRAINT credit_ledger_kind_check CHECK (kind IN (${kinds}))`)
      }),
    orElse: () =>
      Effect.gen(function*() {
        yield* sql.unsafe(`PRAGMA legacy_alter_table = ON`)
        yield* sql.unsafe(`CREATE TABLE credit_ledger_0012 (
          id INTEGER PRIMARY KEY AUTOINCREMENT,
          user_id INTEGER NOT NULL REFERENCES users(id),
          op_key TEXT NOT NULL UNIQUE,
          kind TEXT NOT NULL CHECK (kind IN (${kinds})),
          delta_credits INTEGER NOT NULL,
          delta_free INTEGER NOT NULL,
          job_id TEXT,
          payment_id TEXT,
          admin_id INTEGER,
          note TEXT,
          created_at TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP
        )`)
        yield* sql.unsafe(`INSERT INTO credit_ledger_0012 SELECT id, user_id, op_key, kind, delta_credits, delta_free,
          job_id, payment_id, admin_id, note, created_at FROM credit_ledger`)
        yield* sql.unsafe(`DROP TABLE credit_ledger`)
        yield* sql.unsafe(`ALTER TABLE credit_ledger_0012 RENAME TO credit_ledger`)
        yield* sql.unsafe(`PRAGMA legacy_alter_table = OFF`)
        // The indexes of 0001, which went with the old table.
        yield* sql.unsafe(`CREATE UNIQUE INDEX credit_ledger_job_kind ON credit_ledger (job_id, kind)`)
        yield* sql.unsafe(`CREATE UNIQUE INDEX credit_ledger_payment_kind ON credit_ledger (payment_id, kind)`)
        yield* sql.unsafe(`CREATE UNIQUE INDEX credit_ledger_one_free_grant ON credit_ledger (user_id) WHERE kind = 'free_grant'`)
        yield* sql.unsafe(
          `CREATE UNIQUE INDEX credit_ledger_one_settlement ON credit_ledger (job_id) WHERE kind IN ('capture', 'refund')`
        )
        yield* sql.unsafe(`CREATE INDEX credit_ledger_user ON credit_ledger (user_id)`)
      })
  })

  // One row per invited user, written when a new user starts through an invitation. The
  // outcome is decided once, by the inviter's entity; outcome_day is the UTC day of that
  // decision on the app's clock, which the daily cap counts.
  yield* sql.unsafe(`CREATE TABLE referrals (
    invitee_id ${id} PRIMARY KEY REFERENCES users(id),
    inviter_id ${id} NOT NULL REFERENCES users(id),
    created_at ${timestamp} NOT NULL DEFAULT CURRENT_TIMESTAMP,
    qualified_at ${timestamp},
    outcome TEXT CHECK (outcome IN ('granted', 'capped', 'disabled')),
    outcome_day TEXT,
    bonus INTEGER NOT NULL DEFAULT 0,
    CHECK (invitee_id <> inviter_id)
  )`)
  yield* sql.unsafe(`CREATE INDEX referrals_inviter_day ON referrals (inviter_id, outcome_day)`)

  // `uses` is claimed with one conditional UPDATE (uses < max_uses), so the cap holds
  // however many runners redeem at once; the CHECK is the database's own guard.
  yield* sql.unsafe(`CREATE TABLE promo_codes (
    code TEXT PRIMARY KEY,
    credits INTEGER NOT NULL CHECK (credits > 0),
    max_uses INTEGER NOT NULL CHECK (max_uses > 0),
    uses INTEGER NOT NULL DEFAULT 0 CHECK (uses >= 0 AND uses <= max_uses),
    expires_at_ms ${id},
    created_by ${id} NOT NULL,
    created_at ${timestamp} NOT NULL DEFAULT CURRENT_TIMESTAMP,
    disabled_at ${timestamp}
  )`)
  yield* sql.unsafe(`CREATE TABLE promo_redemptions (
    code TEXT NOT NULL REFERENCES promo_codes(code),
    user_id ${id} NOT NULL REFERENCES users(id),
    request_key TEXT NOT NULL,
    credits INTEGER NOT NULL,
    created_at ${timestamp} NOT NULL DEFAULT CURRENT_TIMESTAMP,
    PRIMARY KEY (code, user_id)
  )`)

  yield* sql.unsafe(`CREATE VIEW analytics_referrals_daily AS
    SELECT ${day("created_at")} AS day,
      ${int("COUNT(*)")} AS invited,
      ${int("SUM(CASE WHEN qualified_at IS NOT NULL THEN 1 ELSE 0 END)")} AS converted,
      ${int("SUM(CASE WHEN outcome = 'granted' THEN 1 ELSE 0 END)")} AS bonuses_granted,
      ${int("SUM(CASE WHEN outcome = 'capped' THEN 1 ELSE 0 END)")} AS bonuses_capped,
      ${int("SUM(CASE WHEN outcome = 'granted' THEN bonus ELSE 0 END)")} AS bonus_credits,
      ${int("COUNT(DISTINCT inviter_id)")} AS inviters
    FROM referrals
    GROUP BY ${day("created_at")}`)

  yield* sql.unsafe(`CREATE VIEW analytics_promo_codes AS
    SELECT c.code, c.credits, c.max_uses, c.uses, c.expires_at_ms,
      ${int("CASE WHEN c.disabled_at IS NULL THEN 0 ELSE 1 END")} AS disabled,
      ${int("COUNT(r.user_id)")} AS redemptions,
      ${int("COALESCE(SUM(r.credits), 0)")} AS credits_granted,
      MIN(r.created_at) AS first_redeemed_at,
      MAX(r.created_at) AS last_redeemed_at
    FROM promo_codes c LEFT JOIN promo_redemptions r ON r.code = c.code
    GROUP BY c.code, c.credits, c.max_uses, c.uses, c.expires_at_ms, c.disabled_at`)

  yield* sql.unsafe(`CREATE VIEW analytics_promo_redemptions_daily AS
    SELECT ${day("created_at")} AS day,
      ${int("COUNT(*)")} AS redemptions,
      ${int("COUNT(DISTINCT code)")} AS codes,
      ${int("SUM(credits)")} AS credits
    FROM promo_redemptions
    GROUP BY ${day("created_at")}`)

  // The read-only role of 0004, where it exists, reads these views too.
  yield* sql.onDialectOrElse({
    pg: () =>
      sql.unsafe(`DO $$
        BEGIN
          IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'bot_readonly') THEN
            GRANT SELECT ON ${growthViews.join(", ")} TO bot_readonly;
          END IF;
        END $$`),
    orElse: () => Effect.void
  })
})
