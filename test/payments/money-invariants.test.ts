import { SqlClient } from "@effect/sql"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Either } from "effect"
import { UserEntity } from "../../src/protocols/user-protocol.js"
import { type JobId, UserId } from "../../src/domain/ids.js"
import { CreditLedger } from "../../src/storage/credit-ledger.js"
import { dialects, freshSettings } from "../support/database.js"
import { LedgerOnlyActors, runnerLayer, seededRandom } from "../support/runner.js"

const profile = { firstName: "Ann", languageCode: "en" }

describe.each(dialects)("money invariants under a seeded mix of purchases, jobs, refunds and replays on %s", (dialect) => {
  it.live("the ledger, the cache and a model of the rules agree after every step", () =>
    Effect.gen(function*() {
      const settings = yield* freshSettings(dialect, { FREE_TOKENS: "2" })
      yield* Effect.gen(function*() {
        const random = seededRandom(20261125)
        const user = (yield* UserEntity.client)("301")
        const ledger = yield* CreditLedger
        yield* user.Register({ requestKey: "register", profile })

        // The model: what the rules say the balance must be.
        const model = { credits: 0, free: 2, granted: 2, captured: 0, revoked: 0 }
        const payments: Array<{ id: string; credits: number; revoked: boolean }> = []
        const held = new Map<JobId, { fromCredits: number; fromFree: number }>()
        let keys = 0

        for (let step = 0; step < 60; step++) {
          const roll = random.next()
          if (roll < 0.3 || payments.length === 0) {
            const replay = payments.length > 0 && random.next() < 0.3
            const payment = replay ? random.pick(payments) : { id: `stx-${step}`, credits: random.pick([5, 20, 50]), revoked: false }
            yield* user.Grant({ paymentId: payment.id, credits: payment.credits })
            if (!replay) {
              payments.push(payment)
              model.credits += payment.credits
              model.granted += payment.credits
            }
          } else if (roll < 0.7) {
            const cost = random.int(1, 3)
            const requestKey = `job-${step}`
            const started = yield* Effect.either(user.StartJob({
              requestKey, chatId: 301, photo: { fileId: "photo" }, prompt: "move",
              model: "kling-2.6/image-to-video", durationSeconds: 5, cost
            }))
            if (model.credits + model.free < cost) {
              assert.isTrue(Either.isLeft(started), `step ${step}: a short balance must be refused`)
              continue
            }
            assert.isTrue(Either.isRight(started), `step ${step}`)
            const fromFree = Math.min(model.free, cost)
            model.free -= fromFree
            model.credits -= cost - fromFree
            if (Either.isRight(started)) held.set(started.right.jobId, { fromCredits: cost - fromFree, fromFree })
          } else if (roll < 0.85 && held.size > 0) {
            const jobId = random.pick([...held.keys()])
            const split = held.get(jobId)!
            const capture = random.next() < 0.5
            const settle = capture
              ? user.Capture({ jobId })
              : user.Refund({ jobId, reason: "KieUserError" })
            yield* settle
            if (random.next() < 0.5) yield* settle // a replay changes nothing
            held.delete(jobId)
            if (capture) model.captured += split.fromCredits + split.fromFree
            else {
              model.credits += split.fromCredits
              model.free += split.fromFree
            }
          } else {
            const payment = random.pick(payments)
            const result = yield* Effect.either(user.RevokePayment({ requestKey: `refund-${keys++}`, paymentId: payment.id }))
            if (payment.revoked) {
              assert.isTrue(Either.isRight(result), `step ${step}: a second revoke is a no-op`)
            } else if (model.credits >= payment.credits) {
              assert.isTrue(Either.isRight(result), `step ${step}`)
              payment.revoked = true
              model.credits -= payment.credits
              model.revoked += payment.credits
            } else {
              assert.isTrue(Either.isLeft(result) && result.left._tag === "CreditsAlreadySpent", `step ${step}`)
            }
          }
          const balance = yield* user.GetBalance()
          assert.deepStrictEqual([balance.credits, balance.freeTokens], [model.credits, model.free], `step ${step}`)
        }

        const cached = yield* ledger.balanceOf(UserId.make(301))
        assert.deepStrictEqual(yield* ledger.ledgerSumOf(UserId.make(301)), cached)
        const inHolds = [...held.values()].reduce((sum, h) => sum + h.fromCredits + h.fromFree, 0)
        // granted = spent + refunded back to the buyer + balance (+ units held by unfinished jobs)
        assert.strictEqual(model.granted, model.captured + model.revoked + cached.total + inHolds)
        const sql = yield* SqlClient.SqlClient
        const grants = yield* sql<{ n: number }>`SELECT COUNT(*) AS n FROM credit_ledger WHERE kind = 'grant'`
        assert.strictEqual(Number(grants[0]!.n), payments.length)
        const revokes = yield* sql<{ n: number }>`SELECT COUNT(*) AS n FROM credit_ledger WHERE kind = 'payment_refund'`
        assert.strictEqual(Number(revokes[0]!.n), payments.filter((p) => p.revoked).length)
        assert.isAbove(payments.filter((p) => p.revoked).length, 0)
        assert.isAbove(model.captured, 0)
      }).pipe(Effect.provide(runnerLayer(settings, LedgerOnlyActors)))
    }).pipe(Effect.scoped), 120_000)
})
