import { SqlClient } from "@effect/sql"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer, Metric, Option } from "effect"
import { UserEntity } from "../../src/protocols/user-protocol.js"
import { updatesRetried } from "../../src/observability/metrics.js"
import { encodePayload, newNonce } from "../../src/payments/invoice-payload.js"
import { PaymentSecret, PaymentService, PaymentsRepo } from "../../src/payments/index.js"
import { reconcile } from "../../src/payments/reconciliation.js"
import { messagesFor } from "../../src/i18n/index.js"
import { operatorTexts } from "../../src/i18n/operator.js"
import type { SuccessfulPaymentDelivery } from "../../src/sim/telegram/payments.js"
import type { InvoiceRef } from "../../src/sim/telegram/sim-user.js"
import type { TelegramSimulator } from "../../src/sim/telegram/index.js"
import { answerOf, countText, eventually, inSystem, textsTo } from "../e2e/support.js"
import { type Dialect, dialects } from "../support/database.js"
import { advance, type Simulators, startSimulators, withTicks } from "../support/job-harness.js"
import { checkBooks, paymentsBotSystem, waitForText } from "../support/payments-bot.js"

const ADMIN = 900
const en = messagesFor("en").payments
const seq = (sim: TelegramSimulator) => sim.calls.all().length

/** Fresh simulators and database, and `body` run against the real bot on a runner. */
const withBot = <A, E>(dialect: Dialect, body: (sims: Simulators) => Effect.Effect<A, E, any>) =>
  Effect.gen(function*() {
    const sims = yield* startSimulators(dialect, {
      env: { FREE_TOKENS: "0", ADMIN_IDS: String(ADMIN), TELEGRAM_POLL_TIMEOUT: "2" }
    })
    return yield* inSystem(paymentsBotSystem(sims.settings), body(sims))
  })

const balanceOf = (userId: number) =>
  withTicks(Effect.flatMap(UserEntity.client, (users) => users(String(userId)).GetBalance()))

/** /buy, press the package's button, wait for the invoice. */
const openInvoice = (sims: Simulators, userId: number, credits: number) =>
  Effect.gen(function*() {
    const sim = sims.telegram
    const user = sim.user(userId)
    const before = seq(sim)
    const invoices = sim.invoices().length
    user.sendCommand("buy")
    yield* waitForText(sims, userId, "Telegram Stars", before)
    yield* answerOf(user.pressButton(`buy:${credits}`).answered())
    yield* eventually(sims, "invoice", () => sim.invoices().length > invoices)
    return sim.invoices().at(-1)!
  })

const pay = (sims: Simulators, payerId: number, invoice?: InvoiceRef, delivery?: SuccessfulPaymentDelivery) =>
  answerOf(sims.telegram.user(payerId).payInvoice(invoice, delivery === undefined ? {} : { delivery }))

/** The subjects of the operator alerts the admin was sent. */
const alertsTo = (sim: TelegramSimulator, adminId: number) =>
  textsTo(sim, adminId).filter((text) => text.startsWith("⚠️ Operator alert: ")).map((text) =>
    text.slice("⚠️ Operator alert: ".length).split("\n")[0]
  )

describe.each(dialects)("Stars payments through the bot on %s", (dialect) => {
  it.scoped("buying each package adds exactly its credits; a doubled successful_payment grants once", () =>
    withBot(dialect, (sims) =>
      Effect.gen(function*() {
        const sim = sims.telegram
        const alice = sim.createUser({ id: 1001, first_name: "Alice", language_code: "en" })
        const deliveries = ["twice", "twice-same-update-id", "once"] as const
        const packages = [[5, 250], [20, 900], [50, 2000]] as const
        let expected = 0
        for (const [index, [credits, stars]] of packages.entries()) {
          const invoice = yield* openInvoice(sims, alice.id, credits)
          assert.deepStrictEqual([invoice.currency, invoice.total_amount, invoice.prices.length], ["XTR", stars, 1])
          const before = seq(sim)
          const outcome = yield* pay(sims, alice.id, undefined, deliveries[index]!)
          assert.strictEqual(outcome.status, "paid")
          expected += credits
          yield* waitForText(sims, alice.id, `Balance: ${expected} credits`, before)
          assert.deepStrictEqual((yield* balanceOf(alice.id)).credits, expected)
        }
        // Two updates are each thanked; one update delivered twice is handled once; nothing is granted twice.
        yield* eventually(sims, "every delivery thanked", () => countText(sim, alice.id, "Thank you!") === 4)
        assert.strictEqual((yield* checkBooks(alice.id)).credits, 75)
        const sql = yield* SqlClient.SqlClient
        const rows = yield* sql<{ package: string; state: string }>`SELECT package, state FROM payments ORDER BY stars`
        assert.deepStrictEqual(rows.map((r) => [r.package, r.state]), [["5:250", "credited"], ["20:900", "credited"], ["50:2000", "credited"]])
      })
    ))

  it.scoped("tampered, mispriced, wrong-currency, someone else's or withdrawn invoices are refused with a reason", () =>
    withBot(dialect, (sims) =>
      Effect.gen(function*() {
        const sim = sims.telegram
        const alice = sim.createUser({ id: 1002, first_name: "Alice", language_code: "en" })
        const bob = sim.createUser({ id: 1003, first_name: "Bob", language_code: "ru" })
        const invoice = yield* openInvoice(sims, alice.id, 50)
        const [v, , , user, nonce, mac] = invoice.payload.split(".")
        const secret = yield* PaymentSecret
        const cases = [
          [alice, { payload: [v, "50", "250", user, nonce, mac].join("."), currency: "XTR", total_amount: 250 }, en.refusal["invalid-invoice"]],
          [alice, { payload: invoice.payload, currency: "XTR", total_amount: 250 }, en.refusal["wrong-amount"]],
          [alice, { payload: invoice.payload, currency: "USD", total_amount: 2000 }, en.refusal["wrong-currency"]],
          [bob, invoice, messagesFor("ru").payments.refusal["not-your-invoice"]],
          [alice, { payload: encodePayload(secret, { credits: 10, stars: 400, userId: alice.id, nonce: newNonce() }), currency: "XTR", total_amount: 400 }, en.refusal["package-gone"]],
          [alice, { payload: encodePayload(secret, { credits: 50, stars: 1500, userId: alice.id, nonce: newNonce() }), currency: "XTR", total_amount: 1500 }, en.refusal["price-changed"]]
        ] as const
        for (const [payer, target, reason] of cases) {
          const outcome = yield* pay(sims, payer.id, target)
          assert.deepStrictEqual(outcome, { status: "rejected", errorMessage: reason })
        }
        assert.strictEqual(sim.starTransactions().length, 0)
        const sql = yield* SqlClient.SqlClient
        assert.strictEqual((yield* sql`SELECT 1 FROM payments`).length, 0)
        assert.strictEqual((yield* balanceOf(alice.id)).credits, 0)
      })
    ))

  it.scoped("a package removed from STAR_PACKAGES after its invoice was sent is refused", () =>
    Effect.gen(function*() {
      const sims = yield* startSimulators(dialect, { env: { FREE_TOKENS: "0", TELEGRAM_POLL_TIMEOUT: "2" } })
      const alice = sims.telegram.createUser({ id: 1004, first_name: "Alice", language_code: "en" })
      const invoice = yield* Effect.scoped(inSystem(paymentsBotSystem(sims.settings), openInvoice(sims, alice.id, 50)))
      // A new runner with a new price list, same database and bot.
      const settings = { ...sims.settings, starPackages: [{ credits: 5, stars: 250 }, { credits: 20, stars: 900 }] }
      yield* inSystem(paymentsBotSystem(settings), Effect.gen(function*() {
        const outcome = yield* pay(sims, alice.id, invoice)
        assert.deepStrictEqual(outcome, { status: "rejected", errorMessage: en.refusal["package-gone"] })
        assert.strictEqual((yield* balanceOf(alice.id)).credits, 0)
      }))
    }))

  it.scoped("a dropped successful_payment is credited once by reconciliation, and a second pass changes nothing", () =>
    withBot(dialect, (sims) =>
      Effect.gen(function*() {
        const sim = sims.telegram
        const alice = sim.createUser({ id: 1005, first_name: "Alice", language_code: "en" })
        sim.createUser({ id: ADMIN, first_name: "Admin", language_code: "en" })
        yield* openInvoice(sims, alice.id, 20)
        const outcome = yield* pay(sims, alice.id, undefined, "drop")
        assert.strictEqual(outcome.status, "paid")
        assert.strictEqual((yield* balanceOf(alice.id)).credits, 0)
        const chargeId = outcome.status === "paid" ? outcome.chargeId : ""

        // Too fresh: its successful_payment may be in flight, so the pass leaves it alone.
        const early = yield* withTicks(reconcile({ graceSeconds: 3600 }))
        assert.deepStrictEqual([early.credited, early.mismatches], [[], []])
        assert.strictEqual((yield* balanceOf(alice.id)).credits, 0)

        const first = yield* withTicks(reconcile({ graceSeconds: 0 }))
        assert.deepStrictEqual(first.credited, [chargeId])
        assert.strictEqual((yield* checkBooks(alice.id)).credits, 20)
        yield* waitForText(sims, alice.id, "We found your payment")
        assert.deepStrictEqual(alertsTo(sim, ADMIN), ["payment credited by reconciliation"])

        const second = yield* withTicks(reconcile({ graceSeconds: 0 }))
        assert.deepStrictEqual([second.credited, second.mismatches, second.refundsConfirmed], [[], [], []])
        assert.strictEqual((yield* checkBooks(alice.id)).credits, 20)
        assert.strictEqual(alertsTo(sim, ADMIN).length, 1)
        const row = yield* (yield* PaymentsRepo).find(chargeId)
        assert.deepStrictEqual(Option.map(row, (r) => [r.state, r.credits, r.stars]), Option.some(["credited", 20, 900]))
      })
    ))

  it.scoped("an admin refund of unspent credits removes them and returns the Stars, once; spent credits are refused", () =>
    withBot(dialect, (sims) =>
      Effect.gen(function*() {
        const sim = sims.telegram
        const alice = sim.createUser({ id: 1006, first_name: "Alice", language_code: "en" })
        const admin = sim.createUser({ id: ADMIN, first_name: "Admin", language_code: "en" })
        const buy = (credits: number) =>
          Effect.gen(function*() {
            yield* openInvoice(sims, alice.id, credits)
            const before = seq(sim)
            const outcome = yield* pay(sims, alice.id)
            yield* waitForText(sims, alice.id, "Thank you!", before)
            return outcome.status === "paid" ? outcome.chargeId : ""
          })
        const refund = (chargeId: string, expected: string) =>
          Effect.gen(function*() {
            const before = seq(sim)
            admin.sendCommand("refund", chargeId)
            yield* waitForText(sims, ADMIN, expected, before)
          })

        const first = yield* buy(5)
        yield* refund(first, operatorTexts.refundDone(first, alice.id, 250, 5))
        assert.strictEqual((yield* checkBooks(alice.id)).credits, 0)
        yield* waitForText(sims, alice.id, "250 ⭐ have been refunded")
        assert.deepStrictEqual(sim.starTransactions().map((t) => [t.id, t.source !== undefined]), [[first, true], [first, false]])
        yield* refund(first, operatorTexts.refundAlready(first))
        assert.strictEqual(sim.starTransactions().length, 2)

        // Spend one of a second purchase: the refund is refused, and nothing is returned.
        const second = yield* buy(5)
        const users = yield* UserEntity.client
        yield* withTicks(users(String(alice.id)).StartJob({
          requestKey: "spend-1", chatId: alice.id, photo: { fileId: "photo" }, prompt: "move",
          model: "kling-2.6/image-to-video", durationSeconds: 5, cost: 1
        }))
        yield* refund(second, operatorTexts.refundSpent(second, 5, 4))
        assert.strictEqual((yield* checkBooks(alice.id)).credits, 4)
        assert.strictEqual(sim.starTransactions().length, 3)

        // A refusal is final for its request only: after a top-up a new /refund succeeds.
        yield* buy(5)
        yield* refund(second, operatorTexts.refundDone(second, alice.id, 250, 5))
        assert.strictEqual((yield* checkBooks(alice.id)).credits, 4)
        const sql = yield* SqlClient.SqlClient
        const rows = yield* sql<{ state: string }>`SELECT state FROM payments WHERE telegram_payment_charge_id = ${second}`
        assert.strictEqual(rows[0]?.state, "refunded")

        // To anyone but an admin /refund does not exist: it is an unknown command, nothing refunded.
        const third = yield* buy(5)
        const before = seq(sim)
        alice.sendCommand("refund", third)
        yield* waitForText(sims, alice.id, "Unknown command.", before)
        assert.strictEqual((yield* checkBooks(alice.id)).credits, 9)
        assert.strictEqual(sim.starTransactions().filter((t) => t.id === third).length, 1)
      })
    ))

  it.scoped("a payment whose payload the bot did not sign is reported once and kept at zero credits", () =>
    withBot(dialect, (sims) =>
      Effect.gen(function*() {
        const alice = sims.telegram.createUser({ id: 1008, first_name: "Alice", language_code: "en" })
        sims.telegram.createUser({ id: ADMIN, first_name: "Admin", language_code: "en" })
        const payments = yield* PaymentService
        const received = { chargeId: "stx-unsigned-1", userId: alice.id, currency: "XTR", totalAmount: 250, invoicePayload: "v1.50.250.1008.abc.forged" }
        const failed = yield* withTicks(Effect.flip(payments.completePayment(received)))
        assert.strictEqual(failed._tag, "UnverifiablePayment")
        assert.strictEqual((yield* withTicks(Effect.flip(payments.completePayment(received))))._tag, "UnverifiablePayment")
        assert.deepStrictEqual(alertsTo(sims.telegram, ADMIN), ["payment cannot be matched"])
        const row = yield* (yield* PaymentsRepo).find("stx-unsigned-1")
        assert.deepStrictEqual(Option.map(row, (r) => [r.credits, r.stars, r.state]), Option.some([0, 250, "received"]))
        assert.strictEqual((yield* checkBooks(alice.id)).credits, 0)
      })
    ))

  it.scoped("concurrent deliveries to two PaymentService instances grant once", () =>
    withBot(dialect, (sims) =>
      Effect.gen(function*() {
        const alice = sims.telegram.createUser({ id: 1007, first_name: "Alice", language_code: "en" })
        const invoice = yield* openInvoice(sims, alice.id, 20)
        const two = yield* Effect.all([Layer.build(PaymentService.Default), Layer.build(PaymentService.Default)])
        const received = { chargeId: "stx-concurrent-1", userId: alice.id, currency: "XTR", totalAmount: 900, invoicePayload: invoice.payload }
        const results = yield* withTicks(Effect.all(
          Array.from({ length: 6 }, (_, i) =>
            Effect.flatMap(PaymentService, (service) => service.completePayment(received)).pipe(Effect.provide(two[i % 2]!))),
          { concurrency: "unbounded" }
        ))
        assert.strictEqual(results.filter((r) => r.firstTime).length, 1)
        for (const result of results) assert.strictEqual(result.balance.credits, 20)
        assert.strictEqual((yield* checkBooks(alice.id)).credits, 20)
      })
    ))
})

describe("a successful_payment during a storage outage (Postgres)", () => {
  it.scoped("is handled again when the database is back: credited and thanked once, without reconciliation", () =>
    withBot("pg", (sims) =>
      Effect.gen(function*() {
        const sim = sims.telegram
        const sql = yield* SqlClient.SqlClient
        const alice = sim.createUser({ id: 1009, first_name: "Alice", language_code: "en" })
        yield* openInvoice(sims, alice.id, 5)

        const retriedBefore = (yield* Metric.value(updatesRetried)).count
        yield* sql`ALTER TABLE payments RENAME TO payments_unavailable`
        assert.strictEqual((yield* pay(sims, alice.id)).status, "paid")
        for (let i = 0; i < 60 && (yield* Metric.value(updatesRetried)).count === retriedBefore; i++) {
          yield* advance(sims.kie, "500 millis", "500 millis")
        }
        assert.isAbove((yield* Metric.value(updatesRetried)).count, retriedBefore, "the handler met the outage")
        assert.strictEqual(countText(sim, alice.id, "Thank you!"), 0)
        yield* sql`ALTER TABLE payments_unavailable RENAME TO payments`

        yield* eventually(sims, "the thank-you after the outage", () => countText(sim, alice.id, "Thank you!") === 1)
        assert.strictEqual((yield* checkBooks(alice.id)).credits, 5)
        const rows = yield* sql<{ state: string }>`SELECT state FROM payments WHERE user_id = 1009`
        assert.deepStrictEqual(rows.map((r) => r.state), ["credited"])
      })
    ), 120_000)
})
