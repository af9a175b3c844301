import { assert, describe, it } from "@effect/vitest"
import { Effect, Fiber, Layer } from "effect"
import { PaymentsLive } from "../../src/payments/index.js"
import { reconciliationSingleton } from "../../src/payments/reconciliation.js"
import { operatorTexts } from "../../src/i18n/operator.js"
import type { SuccessfulPaymentDelivery } from "../../src/sim/telegram/payments.js"
import { dialects } from "../support/database.js"
import { advanceUntil, type Simulators } from "../support/job-harness.js"
import {
  ADMIN_ID,
  botMessages,
  countText,
  eventually,
  hasText,
  inSystem,
  photoBytes,
  pollingSystem,
  startSystemSimulators,
  user,
  videosTo
} from "../e2e/support.js"
import { checkBooks } from "../support/payments-bot.js"

/** Presses the package's button on the latest message offering it, pays, and waits for the thank-you. */
const buyWith = (sims: Simulators, userId: number, label: string, delivery: SuccessfulPaymentDelivery = "once") =>
  Effect.gen(function*() {
    const sim = sims.telegram
    const buyer = user(sims, userId)
    const invoicesBefore = sim.invoices().length
    const thanksBefore = countText(sim, userId, "Thank you!")
    buyer.pressButton(label)
    yield* eventually(sims, "invoice", () => sim.invoices().length > invoicesBefore)
    const paying = yield* Effect.fork(Effect.promise(() => buyer.payInvoice(undefined, { delivery })))
    yield* eventually(sims, "thank-you", () => countText(sim, userId, "Thank you!") > thanksBefore)
    const outcome = yield* Fiber.join(paying)
    return outcome.status === "paid" ? outcome.chargeId : assert.fail(`payment ${outcome.status}`)
  })

describe.each(dialects)("payments through the bot on %s", (dialect) => {
  it.scoped("after the free videos, a bought package pays for the next video; a doubled delivery grants once", () =>
    Effect.gen(function*() {
      const sims = yield* startSystemSimulators(dialect)
      const sim = sims.telegram
      yield* inSystem(pollingSystem(sims), Effect.gen(function*() {
        const ann = user(sims, 7101)
        for (const caption of ["the waves roll in", "the clouds drift"]) {
          const before = videosTo(sim, 7101).length
          ann.sendPhoto(photoBytes, { caption })
          yield* eventually(sims, "free video", () => videosTo(sim, 7101).length === before + 1)
        }
        ann.sendPhoto(photoBytes, { caption: "one more" })
        yield* eventually(sims, "price list", () => hasText(sim, 7101, "You don't have enough credits"))
        // The "insufficient credits" message's button opens a real invoice now.
        yield* buyWith(sims, 7101, "Buy 5 credits for 250 ⭐", "twice")
        yield* eventually(sims, "both deliveries handled", () => countText(sim, 7101, "Thank you!") === 2)
        assert.strictEqual((yield* checkBooks(7101)).credits, 5)

        ann.sendPhoto(photoBytes, { caption: "a paid one" })
        yield* eventually(sims, "paid video", () => videosTo(sim, 7101).length === 3)
        const afterVideo = yield* checkBooks(7101)
        assert.deepStrictEqual([afterVideo.credits, afterVideo.freeTokens], [4, 0])

        ann.sendCommand("buy")
        yield* eventually(sims, "/buy", () => hasText(sim, 7101, "Buy credits with Telegram Stars"))
        // One set of package buttons: /buy offers what the "insufficient credits" message offered.
        const keyboards = botMessages(sim, 7101)
          .filter((m) => m.text?.includes("enough credits") === true || m.text?.includes("with Telegram Stars") === true)
          .map((m) => m.reply_markup)
        assert.strictEqual(keyboards.length, 2)
        assert.deepStrictEqual(keyboards[1], keyboards[0])
        yield* buyWith(sims, 7101, "Buy 20 credits for 900 ⭐")
        assert.strictEqual((yield* checkBooks(7101)).credits, 24)
        ann.sendCommand("paysupport")
        ann.sendCommand("terms")
        yield* eventually(sims, "/paysupport and /terms", () =>
          hasText(sim, 7101, "Support: write your message now") && hasText(sim, 7101, "Terms:"))
      }))
    }), 180_000)

  it.scoped("an admin refunds their own payment and another user's; spent credits are refused", () =>
    Effect.gen(function*() {
      const sims = yield* startSystemSimulators(dialect, { env: { FREE_TOKENS: "0" } })
      const sim = sims.telegram
      yield* inSystem(pollingSystem(sims), Effect.gen(function*() {
        const admin = user(sims, ADMIN_ID)
        const bea = user(sims, 7102)
        const refund = (chargeId: string, expected: string) =>
          Effect.gen(function*() {
            admin.sendCommand("refund", chargeId)
            yield* eventually(sims, expected, () => hasText(sim, ADMIN_ID, expected))
          })

        // Handled inside the admin's own entity: the credits come back through its own functions.
        admin.sendCommand("buy")
        yield* eventually(sims, "/buy", () => hasText(sim, ADMIN_ID, "Buy credits"))
        const own = yield* buyWith(sims, ADMIN_ID, "Buy 5 credits for 250 ⭐")
        yield* refund(own, operatorTexts.refundDone(own, ADMIN_ID, 250, 5))
        assert.strictEqual((yield* checkBooks(ADMIN_ID)).credits, 0)

        bea.sendCommand("buy")
        yield* eventually(sims, "/buy", () => hasText(sim, 7102, "Buy credits"))
        const beas = yield* buyWith(sims, 7102, "Buy 5 credits for 250 ⭐")
        bea.sendPhoto(photoBytes, { caption: "spend one" })
        yield* eventually(sims, "video", () => videosTo(sim, 7102).length === 1)
        yield* refund(beas, operatorTexts.refundSpent(beas, 5, 4))
        assert.strictEqual((yield* checkBooks(7102)).credits, 4)
        assert.strictEqual(sim.starTransactions().filter((t) => t.id === beas).length, 1)
        assert.isTrue(botMessages(sim, 7102).every((m) => !(m.text ?? "").includes("refunded")))
      }))
    }), 180_000)

  it.scoped("the reconciliation singleton credits a dropped payment on its next pass, once", () =>
    Effect.gen(function*() {
      const sims = yield* startSystemSimulators(dialect, { env: { FREE_TOKENS: "0" } })
      const sim = sims.telegram
      // Passes 10 s apart: each virtual second with the runner underneath costs real time.
      const system = reconciliationSingleton("10 seconds", { graceSeconds: 0 }).pipe(
        Layer.provide(PaymentsLive),
        Layer.provideMerge(pollingSystem(sims))
      )
      yield* inSystem(system, Effect.gen(function*() {
        const cid = user(sims, 7103)
        user(sims, ADMIN_ID)
        cid.sendCommand("buy")
        yield* eventually(sims, "/buy", () => hasText(sim, 7103, "Buy credits"))
        cid.pressButton("Buy 20 credits for 900 ⭐")
        yield* eventually(sims, "invoice", () => sim.invoices().some((i) => i.chatId === 7103))
        const paying = yield* Effect.fork(Effect.promise(() => cid.payInvoice(undefined, { delivery: "drop" })))
        yield* eventually(sims, "paid", () => sim.starTransactions().length === 1)
        yield* Fiber.join(paying)
        assert.strictEqual((yield* checkBooks(7103)).credits, 0)
        yield* eventually(sims, "reconciled", () => hasText(sim, 7103, "We found your payment"), "30 seconds")
        assert.strictEqual((yield* checkBooks(7103)).credits, 20)
        assert.isTrue(hasText(sim, ADMIN_ID, "payment credited by reconciliation"))
        // Two more passes change nothing.
        const passesBefore = sim.callsOf("getStarTransactions").length
        const twoMorePasses = () => Effect.sync(() => sim.callsOf("getStarTransactions").length >= passesBefore + 2)
        assert.isTrue(yield* advanceUntil(sims.kie, twoMorePasses, "2 minutes", "1 second"))
        assert.strictEqual((yield* checkBooks(7103)).credits, 20)
        assert.strictEqual(countText(sim, 7103, "We found your payment"), 1)
      }))
    }), 180_000)
})
