/**
 * The append-only credit ledger (`credit_ledger`) and its balance cache (`balances`). Every
 * change inserts one ledger row and moves the cached balance in the same transaction; a row
 * whose key already exists is not inserted again, so a replayed operation changes nothing.
 */
import { SqlClient, type Statement } from "@effect/sql"
import { Effect, Option, Schema } from "effect"
import { Balance, ReservationSplit } from "../domain/balance.js"
import type { JobId, UserId } from "../domain/ids.js"
import { column, optionalColumn, SqlNumber, SqlUserId } from "./sql-schemas.js"
import { UsersRepo } from "./users-repo.js"

export const LedgerKind = Schema.Literal("free_grant", "reserve", "capture", "refund", "grant", "adjust", "payment_refund", "referral_bonus", "promo")
export type LedgerKind = typeof LedgerKind.Type

/** One `credit_ledger` row; `id` is absent until the row is stored. */
export class LedgerEntry extends Schema.Class<LedgerEntry>("LedgerEntry")({
  id: Schema.optional(SqlNumber),
  userId: column("user_id", SqlUserId),
  /** Names the operation; the same key is never applied twice. */
  opKey: column("op_key", Schema.String),
  kind: LedgerKind,
  deltaCredits: column("delta_credits", SqlNumber),
  deltaFree: column("delta_free", SqlNumber),
  jobId: optionalColumn("job_id", Schema.String),
  paymentId: optionalColumn("payment_id", Schema.String),
  adminId: optionalColumn("admin_id", SqlNumber),
  note: optionalColumn("note", Schema.String)
}) {}

/** A `balances` row, or the ledger's sums under the same column names. */
const BalanceRow = Schema.Struct({ credits: SqlNumber, freeTokens: column("free_tokens", SqlNumber) }).pipe(
  Schema.compose(Balance)
)

// A row that does not decode is a broken database, not a case to handle.
const decodeBalance = (row: unknown) => Effect.orDie(Schema.decodeUnknown(BalanceRow)(row))
const decodeEntryRows = Schema.decodeUnknown(Schema.Array(LedgerEntry))
const decodeEntries = (rows: ReadonlyArray<unknown>) => Effect.orDie(decodeEntryRows(rows))
const firstEntry = (rows: ReadonlyArray<unknown>) => Effect.map(decodeEntries(rows.slice(0, 1)), (entries) => Option.fromNullable(entries[0]))

export class CreditLedger extends Effect.Service<CreditLedger>()("app/CreditLedger", {
  effect: Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const users = yield* UsersRepo

    const balanceOf = Effect.fn("CreditLedger.balanceOf")(function*(userId: UserId) {
      const rows = yield* sql`SELECT credits, free_tokens FROM balances WHERE user_id = ${userId}`
      return rows[0] ? yield* decodeBalance(rows[0]) : Balance.zero
    })

    /** The balance recomputed from the ledger; equal to `balanceOf` when the books are right. */
    const ledgerSumOf = Effect.fn("CreditLedger.ledgerSumOf")(function*(userId: UserId) {
      const rows = yield* sql`
        SELECT COALESCE(SUM(delta_credits), 0) AS credits, COALESCE(SUM(delta_free), 0) AS free_tokens
        FROM credit_ledger WHERE user_id = ${userId}`
      return yield* decodeBalance(rows[0])
    })

    /** Applies the entry unless its key (or a rule's unique key) is already in the ledger. */
    const apply = Effect.fn("CreditLedger.apply")(function*(entry: Omit<LedgerEntry, "id">) {
      yield* users.ensure(entry.userId)
      const inserted = yield* sql<{ id: unknown }>`
        INSERT INTO credit_ledger (user_id, op_key, kind, delta_credits, delta_free, job_id, payment_id, admin_id, note)
        VALUES (${entry.userId}, ${entry.opKey}, ${entry.kind}, ${entry.deltaCredits}, ${entry.deltaFree},
                ${entry.jobId ?? null}, ${entry.paymentId ?? null}, ${entry.adminId ?? null}, ${entry.note ?? null})
        ON CONFLICT DO NOTHING
        RETURNING id`
      if (inserted.length === 0) {
        return { applied: false, balance: yield* balanceOf(entry.userId) } as const
      }
      // The row is created first and then moved: an upsert would check the CHECK
      // constraints against the bare delta of its VALUES row.
      yield* sql`INSERT INTO balances (user_id, credits, free_tokens) VALUES (${entry.userId}, 0, 0) ON CONFLICT (user_id) DO NOTHING`
      const rows = yield* sql`
        UPDATE balances SET
          credits = credits + ${entry.deltaCredits},
          free_tokens = free_tokens + ${entry.deltaFree},
          updated_at = CURRENT_TIMESTAMP
        WHERE user_id = ${entry.userId}
        RETURNING credits, free_tokens`
      if (entry.kind === "free_grant") yield* users.markFreeGranted(entry.userId)
      return { applied: true, balance: yield* decodeBalance(rows[0]) } as const
    }, sql.withTransaction)

    const entryOf = (where: { readonly jobId: JobId } | { readonly paymentId: string }, kinds: ReadonlyArray<LedgerKind>) =>
      Effect.flatMap(
        "jobId" in where
          ? sql`SELECT * FROM credit_ledger WHERE job_id = ${where.jobId} AND ${sql.in("kind", kinds)}`
          : sql`SELECT * FROM credit_ledger WHERE payment_id = ${where.paymentId} AND ${sql.in("kind", kinds)}`,
        firstEntry
      )

    const reservationOf = Effect.fn("CreditLedger.reservationOf")(function*(jobId: JobId) {
      const entry = yield* entryOf({ jobId }, ["reserve"])
      return Option.map(entry, (reserve) => ({
        userId: reserve.userId,
        split: new ReservationSplit({ fromCredits: -reserve.deltaCredits, fromFreeTokens: -reserve.deltaFree })
      }))
    })

    const settlementOf = Effect.fn("CreditLedger.settlementOf")(function*(jobId: JobId) {
      const entry = yield* entryOf({ jobId }, ["capture", "refund"])
      return Option.map(entry, (settlement) => settlement.kind as "capture" | "refund")
    })

    const paymentGrantOf = Effect.fn("CreditLedger.paymentGrantOf")(function*(paymentId: string) {
      const entry = yield* entryOf({ paymentId }, ["grant"])
      return Option.map(entry, (grant) => ({ userId: grant.userId, credits: grant.deltaCredits }))
    })

    const paymentRefundOf = Effect.fn("CreditLedger.paymentRefundOf")(function*(paymentId: string) {
      const entry = yield* entryOf({ paymentId }, ["payment_refund"])
      return Option.map(entry, (refund) => ({ credits: -refund.deltaCredits }))
    })

    /** Up to `limit` paid grants with a ledger id above `afterId`, oldest first. */
    const paidGrantsAfter = Effect.fn("CreditLedger.paidGrantsAfter")(function*(afterId: number, limit: number) {
      const rows = yield* sql`
        SELECT * FROM credit_ledger WHERE kind = 'grant' AND id > ${afterId} ORDER BY id LIMIT ${limit}`
      return yield* decodeEntries(rows)
    })

    /**
     * A delivered job's reservation becomes spent. It moves no balance (the reservation already
     * took the credits), so the job writes it inside its delivered transition (JobRepo.advance)
     * instead of asking the user entity; the unique (job, kind) keeps it to one per job. As a
     * statement of its own, or as a part of the transition's (`onlyIf`: that its write took).
     */
    const captureStatement = (jobId: JobId, onlyIf: Statement.Fragment = sql`TRUE`) =>
      sql`
        INSERT INTO credit_ledger (user_id, op_key, kind, delta_credits, delta_free, job_id)
        SELECT user_id, ${`capture:${jobId}`}, 'capture', 0, 0, job_id FROM credit_ledger
        WHERE job_id = ${jobId} AND kind = 'reserve' AND ${onlyIf}
        ON CONFLICT DO NOTHING`
    const captureReservation = Effect.fn("CreditLedger.captureReservation")(function*(jobId: JobId) {
      yield* captureStatement(jobId)
    })

    return {
      captureReservation,
      captureStatement,
      balanceOf,
      ledgerSumOf,
      apply,
      reservationOf,
      settlementOf,
      paymentGrantOf,
      paymentRefundOf,
      paidGrantsAfter
    } as const
  }),
  dependencies: [UsersRepo.Default]
}) {}
