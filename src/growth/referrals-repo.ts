/**
 * The `referrals` table: who invited whom, whether the invited user qualified (their first
 * purchase or first delivered video, per REFERRAL_TRIGGER) and what the inviter got.
 */
import { SqlClient } from "@effect/sql"
import { Effect, Option } from "effect"
import type { UserId } from "../domain/ids.js"

export type ReferralOutcome = "granted" | "capped" | "disabled"

export interface Referral {
  readonly inviterId: number
  readonly qualified: boolean
  readonly outcome: ReferralOutcome | undefined
}

export interface InviterSummary {
  readonly invited: number
  readonly converted: number
  readonly earned: number
}

export class ReferralsRepo extends Effect.Service<ReferralsRepo>()("app/ReferralsRepo", {
  effect: Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const n = (value: unknown) => Number(value ?? 0)

    /** Links the invited user to the inviter; false when they were linked before. */
    const link = Effect.fn("ReferralsRepo.link")(function*(inviteeId: UserId, inviterId: UserId) {
      const rows = yield* sql`
        INSERT INTO referrals (invitee_id, inviter_id) VALUES (${inviteeId}, ${inviterId})
        ON CONFLICT (invitee_id) DO NOTHING
        RETURNING invitee_id`
      return rows.length > 0
    })

    const find = Effect.fn("ReferralsRepo.find")(function*(inviteeId: UserId | number) {
      const rows = yield* sql<{ inviter_id: unknown; qualified_at: unknown; outcome: ReferralOutcome | null }>`
        SELECT inviter_id, qualified_at, outcome FROM referrals WHERE invitee_id = ${inviteeId}`
      return Option.map(Option.fromNullable(rows[0]), (row): Referral => ({
        inviterId: n(row.inviter_id),
        qualified: row.qualified_at !== null,
        outcome: row.outcome ?? undefined
      }))
    })

    /** Marks the invited user qualified (once; a later call keeps the first time). */
    const qualify = Effect.fn("ReferralsRepo.qualify")(function*(inviteeId: UserId) {
      yield* sql`UPDATE referrals SET qualified_at = CURRENT_TIMESTAMP WHERE invitee_id = ${inviteeId} AND qualified_at IS NULL`
      return yield* find(inviteeId)
    })

    /** Bonuses the inviter got on `day` (UTC, 'YYYY-MM-DD'): what the daily cap counts. */
    const grantedOn = Effect.fn("ReferralsRepo.grantedOn")(function*(inviterId: UserId, day: string) {
      const rows = yield* sql<{ n: unknown }>`
        SELECT COUNT(*) AS n FROM referrals WHERE inviter_id = ${inviterId} AND outcome = 'granted' AND outcome_day = ${day}`
      return n(rows[0]?.n)
    })

    const settle = Effect.fn("ReferralsRepo.settle")(function*(
      inviteeId: number,
      outcome: ReferralOutcome,
      bonus: number,
      day: string
    ) {
      yield* sql`
        UPDATE referrals SET outcome = ${outcome}, bonus = ${bonus}, outcome_day = ${day}
        WHERE invitee_id = ${inviteeId} AND outcome IS NULL`
    })

    const summaryOf = Effect.fn("ReferralsRepo.summaryOf")(function*(inviterId: UserId) {
      const rows = yield* sql<{ invited: unknown; converted: unknown; earned: unknown }>`
        SELECT COUNT(*) AS invited,
          SUM(CASE WHEN qualified_at IS NOT NULL THEN 1 ELSE 0 END) AS converted,
          SUM(CASE WHEN outcome = 'granted' THEN bonus ELSE 0 END) AS earned
        FROM referrals WHERE inviter_id = ${inviterId}`
      return { invited: n(rows[0]?.invited), converted: n(rows[0]?.converted), earned: n(rows[0]?.earned) } satisfies InviterSummary
    })

    return { link, find, qualify, grantedOn, settle, summaryOf } as const
  })
}) {}
