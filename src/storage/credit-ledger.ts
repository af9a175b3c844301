/**
 * The append-only credit ledger and its balance cache. Every change inserts one ledger row
 * and moves the cached balance in the same transaction; a row whose key already exists is
 * not inserted again, so a replayed operation changes nothing.
 */
import { SqlClient } from "@effect/sql"
import { Effect, Option } from "effect"
import { Balance, ReservationSplit } from "../domain/balance.js"
import type { JobId, UserId } from "../domain/ids.js"

export type LedgerKind = "free_grant" | "reserve" | "capture" | "refund" | "grant" | "adjust" | "payment_refund"

export interface LedgerEntry {
  readonly userId: UserId
  /** Names the operation; the same key is never applied twice. */
  readonly opKey: string
  readonly kind: LedgerKind
  readonly deltaCredits: number
  readonly deltaFree: number
  readonly jobId?: string | undefined
  readonly paymentId?: string | undefined
  readonly adminId?: number | undefined
  readonly note?: string | undefined
}

export interface UserProfile {
  readonly firstName?: string | undefined
  readonly username?: string | undefined
  readonly languageCode?: string | undefined
}

const toBalance = (row: { readonly credits: unknown; readonly free_tokens: unknown }) =>
  new Balance({ credits: Number(row.credits), freeTokens: Number(row.free_tokens) })

export class CreditLedger extends Effect.Service<CreditLedger>()("app/CreditLedger", {
  effect: Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient

    const balanceOf = Effect.fn("CreditLedger.balanceOf")(function*(userId: UserId) {
      const rows = yield* sql<{ credits: number; free_tokens: number }>`
        SELECT credits, free_tokens FROM balances WHERE user_id = ${userId}`
      return rows[0] ? toBalance(rows[0]) : Balance.zero
    })

    /** The balance recomputed from the ledger; equal to `balanceOf` when the books are right. */
    const ledgerSumOf = Effect.fn("CreditLedger.ledgerSumOf")(function*(userId: UserId) {
      const rows = yield* sql<{ credits: unknown; free_tokens: unknown }>`
        SELECT COALESCE(SUM(delta_credits), 0) AS credits, COALESCE(SUM(delta_free), 0) AS free_tokens
        FROM credit_ledger WHERE user_id = ${userId}`
      return toBalance(rows[0]!)
    })

    const ensureUser = Effect.fn("CreditLedger.ensureUser")(function*(userId: UserId, profile: UserProfile) {
      yield* sql`
        INSERT INTO users (id, first_name, username, language)
        VALUES (${userId}, ${profile.firstName ?? null}, ${profile.username ?? null}, ${profile.languageCode ?? null})
        ON CONFLICT (id) DO UPDATE SET
          first_name = COALESCE(excluded.first_name, users.first_name),
          username = COALESCE(excluded.username, users.username),
          language = COALESCE(excluded.language, users.language)`
    })

    /** Applies the entry unless its key (or a rule's unique key) is already in the ledger. */
    const apply = Effect.fn("CreditLedger.apply")(function*(entry: LedgerEntry) {
      yield* sql`INSERT INTO users (id) VALUES (${entry.userId}) ON CONFLICT (id) DO NOTHING`
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
      const rows = yield* sql<{ credits: number; free_tokens: number }>`
        UPDATE balances SET
          credits = credits + ${entry.deltaCredits},
          free_tokens = free_tokens + ${entry.deltaFree},
          updated_at = CURRENT_TIMESTAMP
        WHERE user_id = ${entry.userId}
        RETURNING credits, free_tokens`
      if (entry.kind === "free_grant") {
        yield* sql`UPDATE users SET free_tokens_granted_at = CURRENT_TIMESTAMP WHERE id = ${entry.userId}`
      }
      return { applied: true, balance: toBalance(rows[0]!) } as const
    }, sql.withTransaction)

    const hasFreeGrant = Effect.fn("CreditLedger.hasFreeGrant")(function*(userId: UserId) {
      const rows = yield* sql`SELECT 1 FROM credit_ledger WHERE user_id = ${userId} AND kind = 'free_grant'`
      return rows.length > 0
    })

    const reservationOf = Effect.fn("CreditLedger.reservationOf")(function*(jobId: JobId) {
      const rows = yield* sql<{ user_id: unknown; delta_credits: number; delta_free: number }>`
        SELECT user_id, delta_credits, delta_free FROM credit_ledger WHERE job_id = ${jobId} AND kind = 'reserve'`
      return Option.map(Option.fromNullable(rows[0]), (row) => ({
        userId: Number(row.user_id) as UserId,
        split: new ReservationSplit({ fromCredits: -Number(row.delta_credits), fromFreeTokens: -Number(row.delta_free) })
      }))
    })

    const settlementOf = Effect.fn("CreditLedger.settlementOf")(function*(jobId: JobId) {
      const rows = yield* sql<{ kind: "capture" | "refund" }>`
        SELECT kind FROM credit_ledger WHERE job_id = ${jobId} AND kind IN ('capture', 'refund')`
      return Option.map(Option.fromNullable(rows[0]), (row) => row.kind)
    })

    const paymentGrantOf = Effect.fn("CreditLedger.paymentGrantOf")(function*(paymentId: string) {
      const rows = yield* sql<{ user_id: unknown; delta_credits: number }>`
        SELECT user_id, delta_credits FROM credit_ledger WHERE payment_id = ${paymentId} AND kind = 'grant'`
      return Option.map(Option.fromNullable(rows[0]), (row) => ({
        userId: Number(row.user_id) as UserId,
        credits: Number(row.delta_credits)
      }))
    })

    const paymentRefundOf = Effect.fn("CreditLedger.paymentRefundOf")(function*(paymentId: string) {
      const rows = yield* sql<{ delta_credits: number }>`
        SELECT delta_credits FROM credit_ledger WHERE payment_id = ${paymentId} AND kind = 'payment_refund'`
      return Option.map(Option.fromNullable(rows[0]), (row) => ({ credits: -Number(row.delta_credits) }))
    })

    return {
      balanceOf,
      ledgerSumOf,
      ensureUser,
      apply,
      hasFreeGrant,
      reservationOf,
      settlementOf,
      paymentGrantOf,
      paymentRefundOf
    } as const
  })
}) {}
