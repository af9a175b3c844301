/**
 * `promo_codes` and `promo_redemptions`. A redemption claims one use with a single
 * conditional UPDATE (`uses < max_uses`, not disabled, not expired): the row lock makes
 * concurrent claims on any number of runners queue, and each re-checks the condition after
 * the one before it commits, so no more than `max_uses` ever succeed.
 */
import { SqlClient } from "@effect/sql"
import { Effect, Option } from "effect"
import type { PromoCode } from "../domain/growth.js"
import type { UserId } from "../domain/ids.js"

export interface Promo {
  readonly code: string
  readonly credits: number
  readonly maxUses: number
  readonly uses: number
  readonly expiresAtMs: number | undefined
  readonly disabled: boolean
}

export interface NewPromo {
  readonly code: PromoCode
  readonly credits: number
  readonly maxUses: number
  readonly expiresAtMs: number | undefined
  readonly createdBy: number
}

interface PromoRow {
  readonly code: string
  readonly credits: unknown
  readonly max_uses: unknown
  readonly uses: unknown
  readonly expires_at_ms: unknown
  readonly disabled_at: unknown
}

const toPromo = (row: PromoRow): Promo => ({
  code: row.code,
  credits: Number(row.credits),
  maxUses: Number(row.max_uses),
  uses: Number(row.uses),
  expiresAtMs: row.expires_at_ms === null ? undefined : Number(row.expires_at_ms),
  disabled: row.disabled_at !== null
})

export class PromoCodesRepo extends Effect.Service<PromoCodesRepo>()("app/PromoCodesRepo", {
  effect: Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient

    /** False when the code exists already (codes are never reused, even disabled ones). */
    const create = Effect.fn("PromoCodesRepo.create")(function*(promo: NewPromo) {
      const rows = yield* sql`
        INSERT INTO promo_codes (code, credits, max_uses, expires_at_ms, created_by)
        VALUES (${promo.code}, ${promo.credits}, ${promo.maxUses}, ${promo.expiresAtMs ?? null}, ${promo.createdBy})
        ON CONFLICT (code) DO NOTHING
        RETURNING code`
      return rows.length > 0
    })

    const find = Effect.fn("PromoCodesRepo.find")(function*(code: PromoCode) {
      const rows = yield* sql<PromoRow>`
        SELECT code, credits, max_uses, uses, expires_at_ms, disabled_at FROM promo_codes WHERE code = ${code}`
      return Option.map(Option.fromNullable(rows[0]), toPromo)
    })

    /** The newest codes first. */
    const list = Effect.fn("PromoCodesRepo.list")(function*(limit: number) {
      const rows = yield* sql<PromoRow>`
        SELECT code, credits, max_uses, uses, expires_at_ms, disabled_at FROM promo_codes
        ORDER BY created_at DESC, code LIMIT ${limit}`
      return rows.map(toPromo)
    })

    /** False when there is no such code or it was disabled before. */
    const disable = Effect.fn("PromoCodesRepo.disable")(function*(code: PromoCode) {
      const rows = yield* sql`
        UPDATE promo_codes SET disabled_at = CURRENT_TIMESTAMP WHERE code = ${code} AND disabled_at IS NULL RETURNING code`
      return rows.length > 0
    })

    /** The request that redeemed `code` for the user, if they did. */
    const redemptionOf = Effect.fn("PromoCodesRepo.redemptionOf")(function*(code: PromoCode, userId: UserId) {
      const rows = yield* sql<{ request_key: string; credits: unknown }>`
        SELECT request_key, credits FROM promo_redemptions WHERE code = ${code} AND user_id = ${userId}`
      return Option.map(Option.fromNullable(rows[0]), (row) => ({ requestKey: row.request_key, credits: Number(row.credits) }))
    })

    /**
     * Takes one use and records the user's redemption, in the caller's transaction; false
     * when the code is used up, disabled or expired at `nowMs`.
     */
    const claim = Effect.fn("PromoCodesRepo.claim")(function*(
      code: PromoCode,
      userId: UserId,
      requestKey: string,
      credits: number,
      nowMs: number
    ) {
      const claimed = yield* sql`
        UPDATE promo_codes SET uses = uses + 1
        WHERE code = ${code} AND uses < max_uses AND disabled_at IS NULL
          AND (expires_at_ms IS NULL OR expires_at_ms > ${nowMs})
        RETURNING code`
      if (claimed.length === 0) return false
      yield* sql`
        INSERT INTO promo_redemptions (code, user_id, request_key, credits)
        VALUES (${code}, ${userId}, ${requestKey}, ${credits})`
      return true
    })

    return { create, find, list, disable, redemptionOf, claim } as const
  })
}) {}
