/**
 * The `payments` table: one row per Telegram payment, keyed by its
 * telegram_payment_charge_id, so recording a payment twice keeps the first row.
 *
 * state: `received` (row written, credits not yet confirmed) → `credited` →
 * `refunding` (credits taken back, Telegram's refund not yet confirmed) → `refunded`.
 * The money itself is moved only by UserEntity; this table says what happened to each payment.
 */
import { SqlClient } from "@effect/sql"
import { Array as Arr, Clock, Effect, Option, Schema } from "effect"
import { column, SqlNumber, SqlUserId } from "../storage/sql-schemas.js"
import { UsersRepo } from "../storage/users-repo.js"
import { packageName } from "./packages.js"

/** The most ids one lookup statement carries. */
export const LOOKUP_CHUNK = 500

export const PaymentState = Schema.Literal("received", "credited", "refunding", "refunded")
export type PaymentState = typeof PaymentState.Type

/** One `payments` row. */
export class Payment extends Schema.Class<Payment>("Payment")({
  chargeId: column("telegram_payment_charge_id", Schema.String),
  userId: column("user_id", SqlUserId),
  packageName: column("package", Schema.String),
  stars: SqlNumber,
  credits: SqlNumber,
  state: PaymentState
}) {}

export interface NewPayment {
  readonly chargeId: string
  readonly userId: number
  readonly stars: number
  readonly credits: number
}

// A row that does not decode is a broken database, not a case to handle.
const decodePaymentRows = Schema.decodeUnknown(Schema.Array(Payment))
const decodePayments = (rows: ReadonlyArray<unknown>) => Effect.orDie(decodePaymentRows(rows))

export class PaymentsRepo extends Effect.Service<PaymentsRepo>()("app/PaymentsRepo", {
  effect: Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const users = yield* UsersRepo

    const find = Effect.fn("PaymentsRepo.find")(function*(chargeId: string) {
      const rows = yield* sql`SELECT * FROM payments WHERE telegram_payment_charge_id = ${chargeId}`
      return Option.fromNullable((yield* decodePayments(rows))[0])
    })

    /** Inserts the row unless the charge id is known; returns the stored row either way. */
    const record = Effect.fn("PaymentsRepo.record")(function*(payment: NewPayment) {
      yield* users.ensure(payment.userId)
      const inserted = yield* sql`
        INSERT INTO payments (telegram_payment_charge_id, user_id, package, stars, credits, state)
        VALUES (${payment.chargeId}, ${payment.userId}, ${packageName(payment)}, ${payment.stars}, ${payment.credits}, 'received')
        ON CONFLICT (telegram_payment_charge_id) DO NOTHING
        RETURNING *`
      const stored = (yield* decodePayments(inserted))[0]
      if (stored !== undefined) return { inserted: true, payment: stored } as const
      const existing = yield* find(payment.chargeId)
      return { inserted: false, payment: Option.getOrThrow(existing) } as const
    }, sql.withTransaction)

    const setState = (chargeId: string, from: ReadonlyArray<PaymentState>, to: PaymentState) =>
      sql`
        UPDATE payments SET state = ${to}
        WHERE telegram_payment_charge_id = ${chargeId} AND ${sql.in("state", from)}
        RETURNING *`.pipe(Effect.map((rows) => rows.length > 0))

    const markCredited = Effect.fn("PaymentsRepo.markCredited")(function*(chargeId: string) {
      return yield* setState(chargeId, ["received"], "credited")
    })

    const markRefunding = Effect.fn("PaymentsRepo.markRefunding")(function*(chargeId: string) {
      const now = yield* Clock.currentTimeMillis
      const rows = yield* sql`
        UPDATE payments SET state = 'refunding', refunding_at = ${now}
        WHERE telegram_payment_charge_id = ${chargeId} AND state IN ('received', 'credited')
        RETURNING *`
      return rows.length > 0
    })

    const markRefunded = Effect.fn("PaymentsRepo.markRefunded")(function*(chargeId: string) {
      const rows = yield* sql`
        UPDATE payments SET state = 'refunded', refunded_at = CURRENT_TIMESTAMP
        WHERE telegram_payment_charge_id = ${chargeId} AND state <> 'refunded'
        RETURNING *`
      return rows.length > 0
    })

    /** In chunks: one `IN` list with tens of thousands of ids fails on both dialects. */
    const findMany = Effect.fn("PaymentsRepo.findMany")(function*(chargeIds: ReadonlyArray<string>) {
      const found = new Map<string, Payment>()
      for (const chunk of Arr.chunksOf(chargeIds, LOOKUP_CHUNK)) {
        const rows = yield* sql`SELECT * FROM payments WHERE ${sql.in("telegram_payment_charge_id", chunk)}`
        for (const payment of yield* decodePayments(rows)) found.set(payment.chargeId, payment)
      }
      return found
    })

    /**
     * Up to `limit` rows still `refunding` that started before `startedBefore` (epoch ms; a
     * row from before the column existed counts as old), in charge id order after `after`.
     */
    const stuckRefunds = Effect.fn("PaymentsRepo.stuckRefunds")(function*(startedBefore: number, after: string, limit: number) {
      const rows = yield* sql`
        SELECT * FROM payments
        WHERE state = 'refunding' AND telegram_payment_charge_id > ${after}
          AND (refunding_at IS NULL OR refunding_at < ${startedBefore})
        ORDER BY telegram_payment_charge_id
        LIMIT ${limit}`
      return yield* decodePayments(rows)
    })

    /** A user's latest payments, newest first, with when each came ("2026-12-05 14:03", UTC). */
    const recentOf = Effect.fn("PaymentsRepo.recentOf")(function*(userId: number, limit: number) {
      const rows = yield* sql<{ paid_at: string }>`
        SELECT *, CAST(created_at AS TEXT) AS paid_at FROM payments WHERE user_id = ${userId}
        ORDER BY created_at DESC, telegram_payment_charge_id LIMIT ${limit}`
      const payments = yield* decodePayments(rows)
      return payments.map((payment, i) => ({ payment, paidAt: String(rows[i]!.paid_at).slice(0, 16) }))
    })

    return { find, record, markCredited, markRefunding, markRefunded, findMany, stuckRefunds, recentOf } as const
  }),
  dependencies: [UsersRepo.Default]
}) {}
