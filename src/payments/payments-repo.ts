/**
 * The `payments` table: one row per Telegram payment, keyed by its
 * telegram_payment_charge_id, so recording a payment twice keeps the first row.
 *
 * state: `received` (row written, credits not yet confirmed) → `credited` →
 * `refunding` (credits taken back, Telegram's refund not yet confirmed) → `refunded`.
 * The money itself is moved only by UserEntity; this table says what happened to each payment.
 */
import { SqlClient } from "@effect/sql"
import { Array as Arr, Clock, Effect, Option } from "effect"
import { packageName } from "./packages.js"

/** The most ids one lookup statement carries. */
export const LOOKUP_CHUNK = 500

export type PaymentState = "received" | "credited" | "refunding" | "refunded"

export interface PaymentRow {
  readonly chargeId: string
  readonly userId: number
  readonly packageName: string
  readonly stars: number
  readonly credits: number
  readonly state: PaymentState
  readonly refunded: boolean
}

export interface NewPayment {
  readonly chargeId: string
  readonly userId: number
  readonly stars: number
  readonly credits: number
}

interface Row {
  readonly telegram_payment_charge_id: string
  readonly user_id: unknown
  readonly package: string
  readonly stars: unknown
  readonly credits: unknown
  readonly state: PaymentState
  readonly refunded_at: unknown
}

const toPayment = (row: Row): PaymentRow => ({
  chargeId: row.telegram_payment_charge_id,
  userId: Number(row.user_id),
  packageName: row.package,
  stars: Number(row.stars),
  credits: Number(row.credits),
  state: row.state,
  refunded: row.refunded_at !== null && row.refunded_at !== undefined
})

export class PaymentsRepo extends Effect.Service<PaymentsRepo>()("app/PaymentsRepo", {
  effect: Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient

    const find = Effect.fn("PaymentsRepo.find")(function*(chargeId: string) {
      const rows = yield* sql<Row>`SELECT * FROM payments WHERE telegram_payment_charge_id = ${chargeId}`
      return Option.map(Option.fromNullable(rows[0]), toPayment)
    })

    /** Inserts the row unless the charge id is known; returns the stored row either way. */
    const record = Effect.fn("PaymentsRepo.record")(function*(payment: NewPayment) {
      yield* sql`INSERT INTO users (id) VALUES (${payment.userId}) ON CONFLICT (id) DO NOTHING`
      const inserted = yield* sql<Row>`
        INSERT INTO payments (telegram_payment_charge_id, user_id, package, stars, credits, state)
        VALUES (${payment.chargeId}, ${payment.userId}, ${packageName(payment)}, ${payment.stars}, ${payment.credits}, 'received')
        ON CONFLICT (telegram_payment_charge_id) DO NOTHING
        RETURNING *`
      if (inserted[0] !== undefined) return { inserted: true, payment: toPayment(inserted[0]) } as const
      const existing = yield* find(payment.chargeId)
      return { inserted: false, payment: Option.getOrThrow(existing) } as const
    }, sql.withTransaction)

    const setState = (chargeId: string, from: ReadonlyArray<PaymentState>, to: PaymentState) =>
      sql<Row>`
        UPDATE payments SET state = ${to}
        WHERE telegram_payment_charge_id = ${chargeId} AND ${sql.in("state", from)}
        RETURNING *`.pipe(Effect.map((rows) => rows.length > 0))

    const markCredited = Effect.fn("PaymentsRepo.markCredited")(function*(chargeId: string) {
      return yield* setState(chargeId, ["received"], "credited")
    })

    const markRefunding = Effect.fn("PaymentsRepo.markRefunding")(function*(chargeId: string) {
      const now = yield* Clock.currentTimeMillis
      const rows = yield* sql<Row>`
        UPDATE payments SET state = 'refunding', refunding_at = ${now}
        WHERE telegram_payment_charge_id = ${chargeId} AND state IN ('received', 'credited')
        RETURNING *`
      return rows.length > 0
    })

    const markRefunded = Effect.fn("PaymentsRepo.markRefunded")(function*(chargeId: string) {
      const rows = yield* sql<Row>`
        UPDATE payments SET state = 'refunded', refunded_at = CURRENT_TIMESTAMP
        WHERE telegram_payment_charge_id = ${chargeId} AND state <> 'refunded'
        RETURNING *`
      return rows.length > 0
    })

    /** In chunks: one `IN` list with tens of thousands of ids fails on both dialects. */
    const findMany = Effect.fn("PaymentsRepo.findMany")(function*(chargeIds: ReadonlyArray<string>) {
      const found = new Map<string, PaymentRow>()
      for (const chunk of Arr.chunksOf(chargeIds, LOOKUP_CHUNK)) {
        const rows = yield* sql<Row>`SELECT * FROM payments WHERE ${sql.in("telegram_payment_charge_id", chunk)}`
        for (const row of rows) found.set(row.telegram_payment_charge_id, toPayment(row))
      }
      return found
    })

    /**
     * Up to `limit` rows still `refunding` that started before `startedBefore` (epoch ms; a
     * row from before the column existed counts as old), in charge id order after `after`.
     */
    const stuckRefunds = Effect.fn("PaymentsRepo.stuckRefunds")(function*(startedBefore: number, after: string, limit: number) {
      const rows = yield* sql<Row>`
        SELECT * FROM payments
        WHERE state = 'refunding' AND telegram_payment_charge_id > ${after}
          AND (refunding_at IS NULL OR refunding_at < ${startedBefore})
        ORDER BY telegram_payment_charge_id
        LIMIT ${limit}`
      return rows.map(toPayment)
    })

    const languageOf = Effect.fn("PaymentsRepo.languageOf")(function*(userId: number) {
      const rows = yield* sql<{ language: string | null }>`SELECT language FROM users WHERE id = ${userId}`
      return rows[0]?.language ?? undefined
    })

    return { find, record, markCredited, markRefunding, markRefunded, findMany, stuckRefunds, languageOf } as const
  })
}) {}
