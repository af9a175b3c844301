import { SqlClient, Statement } from "@effect/sql"
import { assert, describe, it } from "@effect/vitest"
import { Array as Arr, Effect, Option, Ref, TestClock } from "effect"
import type { User } from "grammy/types"
import { UserEntity } from "../../src/protocols/user-protocol.js"
import { encodePayload, newNonce } from "../../src/payments/invoice-payload.js"
import { PaymentSecret, PaymentsRepo } from "../../src/payments/index.js"
import { LOOKUP_CHUNK } from "../../src/payments/payments-repo.js"
import { PAGE } from "../../src/payments/reconcile-star-transactions.js"
import { reconcile, type ReconciliationOptions } from "../../src/payments/reconciliation.js"
import type { TelegramSimulator } from "../../src/sim/telegram/index.js"
import { type Dialect, dialects } from "../support/database.js"
import { startSimulators } from "../support/job-harness.js"
import { paymentsRunner, RecordedAlerts } from "../support/payments-bot.js"
import { pastStartUp } from "../support/runner.js"

const HISTORY = 100_000
/** A year of history, one transaction every 315 s; the pass runs an hour after the last. */
const START = 1_735_689_600
const SPACING = 315
const NOW = START + HISTORY * SPACING + 3600
const MISSED_AT = 50_000
const STUCK_AT = 70_000
const OLD_REFUNDING_AT = 10_000
const MISSED_USER = 5001
const OPTIONS = { graceSeconds: 120, lookBack: "48 hours", realertAfter: "24 hours" } as const

/** Runs one pass, recording how many statements it ran and the most parameters any had. */
const measuredPass = (overrides: Partial<ReconciliationOptions> = {}) => Effect.gen(function*() {
  const statements = yield* Ref.make({ count: 0, mostParams: 0 })
  const report = yield* reconcile({ ...OPTIONS, ...overrides }).pipe(
    Statement.withTransformer((statement) => {
      const [, params] = statement.compile()
      return Ref.update(statements, (s) => ({ count: s.count + 1, mostParams: Math.max(s.mostParams, params.length) })).pipe(
        Effect.as(statement)
      )
    })
  )
  return { report, statements: yield* Ref.get(statements) }
})

/**
 * 100,000 transactions: payments by 1,000 users, every 1,000th refunded right after, the
 * bot holding a row for each, except the missed payment (no row, signed payload) and two
 * rows stuck `refunding`: one Telegram never refunded, one it refunds after the first pass.
 */
const seedHistory = (sim: TelegramSimulator) =>
  Effect.gen(function*() {
    const secret = yield* PaymentSecret
    const sql = yield* SqlClient.SqlClient
    const users: Array<User> = Array.from({ length: 1000 }, (_, i) => ({ id: 20_000 + i, is_bot: false, first_name: "Payer" }))
    const missedUser = sim.createUser({ id: MISSED_USER, first_name: "Mia", language_code: "en" }).user
    const rows: Array<Record<string, string | number | null>> = []
    const ids = { missed: "", stuck: "", oldRefunding: "" }
    let payments = 0
    while (sim.starTransactions().length < HISTORY) {
      const index = sim.starTransactions().length
      const date = START + index * SPACING
      const payer = index === MISSED_AT ? missedUser : users[payments % users.length]!
      const payload = index === MISSED_AT
        ? encodePayload(secret, { credits: 20, stars: 900, userId: payer.id, nonce: newNonce() })
        : `seeded-${index}`
      const amount = index === MISSED_AT ? 900 : 250
      const chargeId = sim.recordPastStarPayment({ user: payer, amount, payload, date, chargeId: `stx-${index}` })
      payments++
      const refunded = payments % 1000 === 0 && sim.starTransactions().length < HISTORY
      if (refunded) sim.recordPastStarRefund(chargeId, date + 1)
      if (index === MISSED_AT) ids.missed = chargeId
      if (index === STUCK_AT) ids.stuck = chargeId
      if (index === OLD_REFUNDING_AT) ids.oldRefunding = chargeId
      if (index === MISSED_AT) continue
      const state = refunded ? "refunded" : index === STUCK_AT || index === OLD_REFUNDING_AT ? "refunding" : "credited"
      rows.push({ telegram_payment_charge_id: chargeId, user_id: payer.id, package: "5:250", stars: 250, credits: 5, state })
    }
    yield* Effect.gen(function*() {
      yield* sql`INSERT INTO users ${sql.insert(users.map((u) => ({ id: u.id })))}`
      for (const chunk of Arr.chunksOf(rows, 1000)) yield* sql`INSERT INTO payments ${sql.insert(chunk)}`
    }).pipe(sql.withTransaction)
    return ids
  })

/** The payments runner and the Telegram simulator at NOW on TestClock. */
const atNow = <A, E, R>(dialect: Dialect, body: (sim: TelegramSimulator) => Effect.Effect<A, E, R>) =>
  Effect.gen(function*() {
    yield* TestClock.setTime(NOW * 1000)
    const sims = yield* startSimulators(dialect, { env: { FREE_TOKENS: "0" } })
    return yield* Effect.gen(function*() {
      // Past the runner's start-up, which waits on the clock.
      yield* pastStartUp
      return yield* body(sims.telegram)
    }).pipe(Effect.provide(paymentsRunner(sims.settings)))
  })

describe.each(dialects)("incremental payment reconciliation on %s", (dialect) => {
  it.scoped("credits a missed payment once, in bounded pages and statements; later passes read only the look-back window and repeat no alert within a day", () =>
    atNow(dialect, (sim) =>
      Effect.gen(function*() {
        const ids = yield* seedHistory(sim)
        const users = yield* UserEntity.client
        const repo = yield* PaymentsRepo
        const { alerts } = yield* RecordedAlerts
        const subjects = Effect.map(Ref.get(alerts), (all) => all.map((a) => a.subject))
        // A Grant that no payment backs (as a forged runner message would send).
        yield* users("5002").Grant({ paymentId: "stx-forged-1", credits: 1000 })

        const first = yield* measuredPass()
        assert.strictEqual(first.report.transactions, HISTORY)
        assert.strictEqual(first.report.pages, HISTORY / PAGE + 1)
        assert.strictEqual(sim.callsOf("getStarTransactions").length, first.report.pages)
        assert.isAtMost(first.statements.mostParams, LOOKUP_CHUNK)
        assert.isAtMost(first.statements.count, first.report.pages + 50)
        assert.deepStrictEqual(first.report.credited, [ids.missed])
        assert.strictEqual((yield* users(String(MISSED_USER)).GetBalance()).credits, 20)
        assert.deepStrictEqual([...(yield* subjects)].sort(), [
          "paid grant without its payment",
          "payment credited by reconciliation",
          "refund not confirmed by Telegram",
          "refund not confirmed by Telegram"
        ])
        assert.isTrue(first.report.alerted.some((detail) => detail.includes("stx-forged-1") && detail.includes("user 5002")))
        assert.isTrue(first.report.alerted.some((detail) => detail.includes(ids.stuck)))

        // Telegram confirms the refund of a payment far older than the window.
        sim.recordPastStarRefund(ids.oldRefunding, NOW + 300)
        const second = yield* measuredPass()
        assert.isAbove(second.report.fromOffset, HISTORY - 600)
        assert.isAtMost(second.report.pages, 7)
        assert.deepStrictEqual(second.report.credited, [])
        assert.deepStrictEqual(second.report.refundsConfirmed, [ids.oldRefunding])
        assert.deepStrictEqual(Option.map(yield* repo.find(ids.oldRefunding), (row) => row.state), Option.some("refunded"))
        assert.strictEqual((yield* users(String(MISSED_USER)).GetBalance()).credits, 20)
        // Still wrong, still in the report, not alerted again within the day.
        assert.strictEqual(second.report.mismatches.length, 2)
        assert.deepStrictEqual(second.report.alerted, [])
        assert.strictEqual((yield* subjects).length, 4)

        // Once the interval has passed they are alerted again (a short one here: each minute of
        // TestClock runs the runner's timers for seconds).
        yield* TestClock.adjust("3 seconds")
        const third = yield* measuredPass({ realertAfter: "2 seconds" })
        assert.deepStrictEqual(third.report.credited, [])
        assert.strictEqual(third.report.alerted.length, 2)
        assert.isTrue(third.report.alerted.some((detail) => detail.includes(ids.stuck)))
        assert.isTrue(third.report.alerted.some((detail) => detail.includes("stx-forged-1")))
        assert.strictEqual((yield* users(String(MISSED_USER)).GetBalance()).credits, 20)
      })
    ), 120_000)

  it.scoped("a payment the bot never saw is not credited when Telegram refunded it later; a cursor that no longer matches the list makes the pass read it all again", () =>
    atNow(dialect, (sim) =>
      Effect.gen(function*() {
        const secret = yield* PaymentSecret
        const users = yield* UserEntity.client
        const signed = (userId: number) => encodePayload(secret, { credits: 20, stars: 900, userId, nonce: newNonce() })
        const refundedPayer = sim.createUser({ id: 5101, first_name: "Rae", language_code: "en" }).user
        const payer = sim.createUser({ id: 5102, first_name: "Pat", language_code: "en" }).user
        const threeDaysAgo = NOW - 3 * 86_400
        const refunded = sim.recordPastStarPayment({ user: refundedPayer, amount: 900, payload: signed(5101), date: threeDaysAgo })
        sim.recordPastStarRefund(refunded, threeDaysAgo + 60)
        const missed = sim.recordPastStarPayment({ user: payer, amount: 900, payload: signed(5102), date: threeDaysAgo + 120 })

        const first = yield* reconcile(OPTIONS)
        assert.deepStrictEqual(first.credited, [missed])
        assert.isTrue(first.alerted.some((detail) => detail.includes(refunded) && detail.includes("nothing credited")))
        assert.strictEqual((yield* users("5101").GetBalance()).credits, 0)

        // All three are older than the window: the next pass reads only the one it stands on.
        const second = yield* reconcile(OPTIONS)
        assert.deepStrictEqual([second.fromOffset, second.transactions, second.pages], [2, 0, 1])

        const sql = yield* SqlClient.SqlClient
        yield* sql`UPDATE reconciliation_cursors SET marker = 'incoming:elsewhere:0' WHERE name = 'star-transactions'`
        const third = yield* reconcile(OPTIONS)
        assert.deepStrictEqual([third.fromOffset, third.transactions, third.credited, third.alerted], [0, 3, [], []])
        assert.isTrue(third.mismatches.some((detail) => detail.includes(refunded)))
        assert.deepStrictEqual([(yield* users("5101").GetBalance()).credits, (yield* users("5102").GetBalance()).credits], [0, 20])
      })
    ))
})
