import { SqlClient } from "@effect/sql"
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { Balance } from "../../src/domain/balance.js"
import { UserId } from "../../src/domain/ids.js"
import { ReferralsRepo } from "../../src/growth/referrals-repo.js"
import { UserEntity } from "../../src/protocols/user-protocol.js"
import { dialects, freshSettings } from "../support/database.js"
import { checkBooks } from "../support/payments-bot.js"
import { LedgerOnlyActors, runnerLayer } from "../support/runner.js"

const profile = { firstName: "Ann", languageCode: "en" }

const outcomes = Effect.flatMap(SqlClient.SqlClient, (sql) =>
  sql<{ invitee_id: unknown; outcome: string | null; qualified_at: unknown }>`
    SELECT invitee_id, outcome, qualified_at FROM referrals ORDER BY invitee_id`).pipe(
    Effect.map((rows) => rows.map((row) => [Number(row.invitee_id), row.qualified_at !== null, row.outcome]))
  )

const bonusRows = Effect.flatMap(SqlClient.SqlClient, (sql) =>
  sql<{ n: unknown }>`SELECT COUNT(*) AS n FROM credit_ledger WHERE kind = 'referral_bonus'`).pipe(
    Effect.map((rows) => Number(rows[0]?.n))
  )

describe.each(dialects)("the UserEntity's invitations on %s", (dialect) => {
  const withRunner = <A, E, R>(body: Effect.Effect<A, E, R>, env: Record<string, string> = {}) =>
    Effect.gen(function*() {
      const settings = yield* freshSettings(dialect, { FREE_TOKENS: "2", REFERRAL_BONUS: "2", ...env })
      return yield* body.pipe(Effect.provide(runnerLayer(settings, LedgerOnlyActors)))
    }).pipe(Effect.scoped)

  /** Inviter and invited user registered, and linked as the first-contact middleware links them. */
  const invited = (inviter: number, invitee: number) =>
    Effect.gen(function*() {
      const users = yield* UserEntity.client
      yield* users(String(inviter)).Register({ requestKey: "r", profile })
      yield* users(String(invitee)).Register({ requestKey: "r", profile })
      assert.isTrue(yield* (yield* ReferralsRepo).link(UserId.make(invitee), UserId.make(inviter)))
      return users
    }).pipe(Effect.provide(ReferralsRepo.Default))

  it.live("a Grant (a payment seen by the bot or by reconciliation) qualifies the invitation; the bonus is free credits, once", () =>
    withRunner(Effect.gen(function*() {
      const users = yield* invited(301, 302)
      yield* users("302").Grant({ paymentId: "charge-1", credits: 5 })
      // The bonus message was sent without waiting; asking with its key waits for its one answer.
      assert.strictEqual(yield* users("301").ReferralBonus({ inviteeId: UserId.make(302) }), "granted")
      assert.deepStrictEqual(yield* users("301").GetBalance(), new Balance({ credits: 0, freeTokens: 4 }))
      yield* users("302").Grant({ paymentId: "charge-2", credits: 5 })
      yield* users("302").Grant({ paymentId: "charge-1", credits: 5 })
      assert.strictEqual(yield* users("301").ReferralBonus({ inviteeId: UserId.make(302) }), "granted")
      assert.strictEqual(yield* bonusRows, 1)
      assert.deepStrictEqual(yield* outcomes, [[302, true, "granted"]])
      assert.deepStrictEqual(yield* checkBooks(301), new Balance({ credits: 0, freeTokens: 4 }))
      assert.deepStrictEqual(yield* checkBooks(302), new Balance({ credits: 10, freeTokens: 2 }))
    })))

  it.live("REFERRAL_BONUS=0: the invitation qualifies and is decided 'disabled', with no ledger row", () =>
    withRunner(Effect.gen(function*() {
      const users = yield* invited(311, 312)
      yield* users("312").Grant({ paymentId: "charge-3", credits: 5 })
      assert.strictEqual(yield* users("311").ReferralBonus({ inviteeId: UserId.make(312) }), "disabled")
      assert.deepStrictEqual(yield* outcomes, [[312, true, "disabled"]])
      assert.strictEqual(yield* bonusRows, 0)
      assert.deepStrictEqual(yield* users("311").GetBalance(), new Balance({ credits: 0, freeTokens: 2 }))
    }), { REFERRAL_BONUS: "0" }))

  it.live("ReferralBonus for another inviter's invitation earns nothing; the real inviter still gets the bonus", () =>
    withRunner(Effect.gen(function*() {
      const users = yield* invited(321, 322)
      yield* users("323").Register({ requestKey: "r", profile })
      yield* users("322").Grant({ paymentId: "charge-4", credits: 5 })
      assert.strictEqual(yield* users("323").ReferralBonus({ inviteeId: UserId.make(322) }), "not-found")
      assert.strictEqual(yield* users("321").ReferralBonus({ inviteeId: UserId.make(322) }), "granted")
      assert.strictEqual(yield* bonusRows, 1)
      assert.deepStrictEqual(yield* users("323").GetBalance(), new Balance({ credits: 0, freeTokens: 2 }))
    })))
})
