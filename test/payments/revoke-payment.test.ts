import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { UserEntity } from "../../src/protocols/user-protocol.js"
import { Balance } from "../../src/domain/balance.js"
import { dialects, freshSettings } from "../support/database.js"
import { checkBooks } from "../support/payments-bot.js"
import { LedgerOnlyActors, runnerLayer } from "../support/runner.js"

const balance = (credits: number, freeTokens: number) => new Balance({ credits, freeTokens })
const profile = { firstName: "Ann", languageCode: "en" }
const job = (requestKey: string, cost = 1) => ({
  requestKey, chatId: 1, photo: { fileId: "photo" }, prompt: "move", model: "kling-2.6/image-to-video", durationSeconds: 5, cost
})

describe.each(dialects)("UserEntity.RevokePayment on %s", (dialect) => {
  const withRunner = <A, E, R>(body: Effect.Effect<A, E, R>) =>
    Effect.gen(function*() {
      const settings = yield* freshSettings(dialect, { FREE_TOKENS: "1" })
      return yield* body.pipe(Effect.provide(runnerLayer(settings, LedgerOnlyActors)))
    }).pipe(Effect.scoped)

  it.live("takes back unspent credits of a payment once, whatever the request key", () =>
    withRunner(Effect.gen(function*() {
      const user = (yield* UserEntity.client)("201")
      yield* user.Register({ requestKey: "r", profile })
      yield* user.Grant({ paymentId: "stx-1", credits: 5 })
      yield* user.Grant({ paymentId: "stx-2", credits: 20 })
      assert.deepStrictEqual(yield* user.RevokePayment({ requestKey: "refund:a", paymentId: "stx-2" }), balance(5, 1))
      assert.deepStrictEqual(yield* user.RevokePayment({ requestKey: "refund:a", paymentId: "stx-2" }), balance(5, 1))
      assert.deepStrictEqual(yield* user.RevokePayment({ requestKey: "refund:b", paymentId: "stx-2" }), balance(5, 1))
      // A late redelivery of the payment's Grant replays its old reply and grants nothing.
      assert.deepStrictEqual(yield* user.Grant({ paymentId: "stx-2", credits: 20 }), balance(25, 1))
      assert.deepStrictEqual(yield* user.GetBalance(), balance(5, 1))
      assert.deepStrictEqual(yield* checkBooks(201), balance(5, 1))
    })))

  it.live("refuses when the credits are spent, and names the payment the user does not have", () =>
    withRunner(Effect.gen(function*() {
      const users = yield* UserEntity.client
      const user = users("202")
      yield* user.Register({ requestKey: "r", profile })
      yield* user.Grant({ paymentId: "stx-3", credits: 5 })
      // The free token goes first, then one paid credit.
      yield* user.StartJob(job("j1", 2))
      const spent = yield* Effect.flip(user.RevokePayment({ requestKey: "refund:c", paymentId: "stx-3" }))
      assert.deepStrictEqual(
        spent._tag === "CreditsAlreadySpent" ? [spent.paymentId, spent.credits, spent.available] : spent._tag,
        ["stx-3", 5, 4]
      )
      const unknown = yield* Effect.flip(user.RevokePayment({ requestKey: "refund:d", paymentId: "stx-none" }))
      assert.strictEqual(unknown._tag, "PaymentNotFound")
      yield* users("203").Register({ requestKey: "r", profile })
      yield* users("203").Grant({ paymentId: "stx-4", credits: 5 })
      const someoneElses = yield* Effect.flip(user.RevokePayment({ requestKey: "refund:e", paymentId: "stx-4" }))
      assert.strictEqual(someoneElses._tag, "PaymentNotFound")
      assert.deepStrictEqual(yield* checkBooks(202), balance(4, 0))
      assert.deepStrictEqual(yield* checkBooks(203), balance(5, 1))
    })))

  it.live("a refusal is the final answer for its request key only", () =>
    withRunner(Effect.gen(function*() {
      const user = (yield* UserEntity.client)("204")
      yield* user.Register({ requestKey: "r", profile })
      yield* user.Grant({ paymentId: "stx-5", credits: 3 })
      yield* user.StartJob(job("j1", 2))
      const first = yield* Effect.flip(user.RevokePayment({ requestKey: "refund:f", paymentId: "stx-5" }))
      assert.strictEqual(first._tag, "CreditsAlreadySpent")
      yield* user.Grant({ paymentId: "stx-6", credits: 10 })
      const replayed = yield* Effect.flip(user.RevokePayment({ requestKey: "refund:f", paymentId: "stx-5" }))
      assert.strictEqual(replayed._tag, "CreditsAlreadySpent")
      assert.deepStrictEqual(yield* user.RevokePayment({ requestKey: "refund:g", paymentId: "stx-5" }), balance(9, 0))
      assert.deepStrictEqual(yield* checkBooks(204), balance(9, 0))
    })))
})
