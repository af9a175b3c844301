import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { Bot } from "grammy"
import type { TelegramSimulatorOptions } from "../../../src/sim/telegram/index.js"
import { makeTelegramSimulator, TelegramSim, TelegramSimulator } from "../../../src/sim/telegram/index.js"

/**
 * A small Stars shop on grammY, polling the simulator: /buy sends an invoice whose payload names
 * the pack and the buyer; pre-checkout accepts only the buyer's own "pack:" payloads; a
 * successful_payment grants once per telegram_payment_charge_id.
 */
const startShop = (sim: TelegramSimulator) =>
  Effect.acquireRelease(
    Effect.sync(() => {
      const grants = new Map<string, number>()
      const seenPayments: Array<string> = []
      const refunds: Array<string> = []
      const bot = new Bot(sim.token, { botInfo: sim.botInfo, client: { apiRoot: sim.url } })
      bot.command("buy", (ctx) =>
        ctx.replyWithInvoice("5 credits", "Five video generations", `pack:5:user:${ctx.from!.id}`, "XTR", [
          { label: "5 credits", amount: 250 }
        ]))
      bot.on("pre_checkout_query", (ctx) => {
        const q = ctx.preCheckoutQuery
        const ok = q.invoice_payload === `pack:5:user:${q.from.id}` && q.total_amount === 250 && q.currency === "XTR"
        return ok ? ctx.answerPreCheckoutQuery(true) : ctx.answerPreCheckoutQuery(false, "This invoice is not valid")
      })
      bot.on("message:successful_payment", async (ctx) => {
        const payment = ctx.message.successful_payment
        seenPayments.push(payment.telegram_payment_charge_id)
        if (grants.has(payment.telegram_payment_charge_id)) return
        grants.set(payment.telegram_payment_charge_id, 5)
        await ctx.reply("Thanks! +5 credits")
      })
      bot.on("message:refunded_payment", (ctx) => {
        refunds.push(ctx.message.refunded_payment.telegram_payment_charge_id)
      })
      const running = bot.start({ timeout: 2 })
      return { bot, grants, seenPayments, refunds, running }
    }),
    ({ bot, running }) => Effect.promise(async () => {
      await bot.stop()
      await running
    })
  )

const withShop = (options: TelegramSimulatorOptions = {}) =>
  Effect.gen(function*() {
    const sim = yield* makeTelegramSimulator(options)
    const shop = yield* startShop(sim)
    return { sim, shop }
  })

describe("TelegramSimulator: Telegram Stars payments", () => {
  it.scoped("runs the whole flow: invoice, pre-checkout, payment, refund, transactions", () =>
    Effect.gen(function*() {
      const { sim, shop } = yield* withShop()
      const api = shop.bot.api
      const buyer = sim.createUser({ id: 6001, first_name: "Tom", language_code: "en" })
      buyer.sendCommand("buy")
      const invoiceCall = yield* Effect.promise(() => sim.waitForCall("sendInvoice"))
      expect(invoiceCall.outcome).toMatchObject({
        ok: true,
        result: { invoice: { title: "5 credits", currency: "XTR", total_amount: 250 }, chat: { id: 6001 } }
      })
      expect(sim.invoices()).toMatchObject([{ payload: "pack:5:user:6001", total_amount: 250, chatId: 6001 }])

      const outcome = yield* Effect.promise(() => buyer.payInvoice())
      expect(outcome.status).toBe("paid")
      if (outcome.status !== "paid") return
      expect(outcome.chargeId).toMatch(/^stx/)
      expect(outcome.message.successful_payment).toMatchObject({
        currency: "XTR",
        total_amount: 250,
        invoice_payload: "pack:5:user:6001",
        telegram_payment_charge_id: outcome.chargeId
      })
      expect(sim.preCheckoutAnswers()).toMatchObject([{ ok: true }])
      yield* Effect.promise(() => sim.waitForCall("sendMessage", { predicate: (c) => c.params["text"] === "Thanks! +5 credits" }))
      expect([...shop.grants.keys()]).toEqual([outcome.chargeId])

      const first = yield* Effect.promise(() => api.getStarTransactions())
      expect(first.transactions).toMatchObject([
        { id: outcome.chargeId, amount: 250, source: { type: "user", transaction_type: "invoice_payment", user: { id: 6001 }, invoice_payload: "pack:5:user:6001" } }
      ])
      expect(sim.starBalance()).toBe(250)

      expect(yield* Effect.promise(() => api.refundStarPayment(6001, outcome.chargeId))).toBe(true)
      const again = yield* Effect.promise(() => api.refundStarPayment(6001, outcome.chargeId).catch((e: unknown) => e))
      expect(again).toMatchObject({ error_code: 400, description: "Bad Request: CHARGE_ALREADY_REFUNDED" })
      const unknown = yield* Effect.promise(() => api.refundStarPayment(6001, "stxnope").catch((e: unknown) => e))
      expect(unknown).toMatchObject({ error_code: 400, description: "Bad Request: CHARGE_NOT_FOUND" })

      const all = yield* Effect.promise(() => api.getStarTransactions())
      expect(all.transactions).toHaveLength(2)
      expect(all.transactions[1]).toMatchObject({ id: outcome.chargeId, amount: 250, receiver: { type: "user", user: { id: 6001 } } })
      const page = yield* Effect.promise(() => api.getStarTransactions({ offset: 1, limit: 1 }))
      expect(page.transactions.map((t) => t.receiver !== undefined)).toEqual([true])
      expect(sim.starBalance()).toBe(0)
      expect((yield* Effect.promise(() => api.getMyStarBalance())).amount).toBe(0)
      yield* Effect.promise(() => expect.poll(() => shop.refunds, { timeout: 5000, interval: 10 }).toEqual([outcome.chargeId]))
    }))

  it.scoped("rejects at pre-checkout: the user sees the bot's error and nothing is charged", () =>
    Effect.gen(function*() {
      const { sim, shop } = yield* withShop()
      const mallory = sim.createUser({ id: 6002, first_name: "Mallory" })
      const forged = { payload: "pack:5:user:6001", currency: "XTR", total_amount: 1 }
      const outcome = yield* Effect.promise(() => mallory.payInvoice(forged))
      expect(outcome).toEqual({ status: "rejected", errorMessage: "This invoice is not valid" })
      expect(sim.starTransactions()).toEqual([])
      expect(mallory.history().some((m) => m.message.successful_payment !== undefined)).toBe(false)
      expect(shop.grants.size).toBe(0)
    }))

  it.scoped("delivers successful_payment twice (two updates, or the same update_id twice) and the shop grants once", () =>
    Effect.gen(function*() {
      const { sim, shop } = yield* withShop()
      const user = sim.createUser({ id: 6003, first_name: "Uma" })
      user.sendCommand("buy")
      yield* Effect.promise(() => sim.waitForCall("sendInvoice"))

      const twice = yield* Effect.promise(() => user.payInvoice(undefined, { delivery: "twice" }))
      if (twice.status !== "paid") throw new Error("payment failed")
      expect(twice.updates).toHaveLength(2)
      expect(twice.updates[0]!.update_id).not.toBe(twice.updates[1]!.update_id)

      const sameId = yield* Effect.promise(() => user.payInvoice(undefined, { delivery: "twice-same-update-id" }))
      if (sameId.status !== "paid") throw new Error("payment failed")
      expect(sameId.updates[0]!.update_id).toBe(sameId.updates[1]!.update_id)

      yield* Effect.promise(() => expect.poll(() => shop.seenPayments.length, { timeout: 5000, interval: 10 }).toBe(4))
      expect(shop.seenPayments).toEqual([twice.chargeId, twice.chargeId, sameId.chargeId, sameId.chargeId])
      expect([...shop.grants.keys()]).toEqual([twice.chargeId, sameId.chargeId])
      const sameIdDeliveries = sim.deliveries().filter((d) => d.update.update_id === sameId.updates[0]!.update_id)
      expect(sameIdDeliveries).toHaveLength(2)
    }))

  it.scoped("drops a successful_payment update: the charge exists only in getStarTransactions", () =>
    Effect.gen(function*() {
      const { sim, shop } = yield* withShop({ successfulPaymentDelivery: "drop" })
      const user = sim.createUser({ id: 6004, first_name: "Vic" })
      user.sendCommand("buy")
      yield* Effect.promise(() => sim.waitForCall("sendInvoice"))
      const outcome = yield* Effect.promise(() => user.payInvoice())
      if (outcome.status !== "paid") throw new Error("payment failed")
      expect(outcome.updates).toEqual([])
      expect(user.history().at(-1)?.message.successful_payment?.telegram_payment_charge_id).toBe(outcome.chargeId)
      const { transactions } = yield* Effect.promise(() => shop.bot.api.getStarTransactions({ offset: 0, limit: 10 }))
      expect(transactions.map((t) => t.id)).toEqual([outcome.chargeId])
      expect(sim.deliveries().some((d) => d.update.message?.successful_payment !== undefined)).toBe(false)
      expect(shop.grants.size).toBe(0)
    }))

  it.scoped("pays through an invoice link and records subscriptions", () =>
    Effect.gen(function*() {
      const { sim, shop } = yield* withShop()
      const user = sim.createUser({ id: 6005, first_name: "Wes" })
      const link = yield* Effect.promise(() =>
        shop.bot.api.createInvoiceLink("5 credits", "Monthly", "pack:5:user:6005", "", "XTR", [{ label: "month", amount: 250 }], {
          subscription_period: 2592000
        }))
      expect(link).toMatch(/^https:\/\/t\.me\/\$/)
      const outcome = yield* Effect.promise(() => user.payInvoice(link))
      if (outcome.status !== "paid") throw new Error("payment failed")
      expect(outcome.message.successful_payment).toMatchObject({ is_recurring: true, is_first_recurring: true })
      expect(sim.starTransactions()[0]).toMatchObject({ source: { subscription_period: 2592000 } })
    }))
})

describe("TelegramSimulator: invoice rules and the pre-checkout deadline", () => {
  it.layer(TelegramSim.layer({ preCheckoutTimeoutMs: 300 }))((it) => {
    it.effect("refuses invoices Telegram refuses for Stars", () =>
      Effect.gen(function*() {
        const sim = yield* TelegramSim
        const api = new Bot(sim.token, { botInfo: sim.botInfo, client: { apiRoot: sim.url } }).api
        sim.createUser({ id: 6101, first_name: "Xena" })
        const attempt = (f: () => Promise<unknown>) => Effect.promise(() => f().catch((e: unknown) => e))
        expect(yield* attempt(() => api.sendInvoice(6101, "t", "d", "p", "XTR", [{ label: "a", amount: 1 }, { label: "b", amount: 2 }])))
          .toMatchObject({ description: "Bad Request: STARS_INVOICE_INVALID" })
        expect(yield* attempt(() => api.sendInvoice(6101, "t", "d", "x".repeat(129), "XTR", [{ label: "a", amount: 1 }])))
          .toMatchObject({ description: "Bad Request: INVOICE_PAYLOAD_INVALID" })
        expect(yield* attempt(() => api.sendInvoice(6101, "t", "d", "p", "XTR", [{ label: "a", amount: 1 }], { provider_token: "tok" })))
          .toMatchObject({ description: "Bad Request: PAYMENT_PROVIDER_INVALID" })
        expect(yield* attempt(() => api.sendInvoice(6101, "t".repeat(33), "d", "p", "XTR", [{ label: "a", amount: 1 }])))
          .toMatchObject({ description: "Bad Request: INVOICE_TITLE_INVALID" })
        expect(yield* attempt(() => api.sendInvoice(6101, "t", "d", "p", "XTR", [{ label: "a", amount: 1 }], {
          reply_markup: { inline_keyboard: [[{ text: "Help", callback_data: "help" }]] }
        }))).toMatchObject({ description: "Bad Request: REPLY_MARKUP_BUY_EMPTY" })
        expect(sim.invoices()).toEqual([])
        const withPay = yield* Effect.promise(() =>
          api.sendInvoice(6101, "t", "d", "p", "XTR", [{ label: "a", amount: 1 }], {
            reply_markup: { inline_keyboard: [[{ text: "Pay ⭐1", pay: true }], [{ text: "Help", callback_data: "help" }]] }
          }))
        expect(withPay.invoice).toMatchObject({ total_amount: 1, currency: "XTR" })
      }))

    it.effect("times out a pre-checkout the bot does not answer in time, and refuses the late answer", () =>
      Effect.gen(function*() {
        const sim = yield* TelegramSim
        const api = new Bot(sim.token, { botInfo: sim.botInfo, client: { apiRoot: sim.url } }).api
        const user = sim.createUser({ id: 6102, first_name: "Yan" })
        yield* Effect.promise(() => api.sendInvoice(6102, "Pack", "Five", "pack:5", "XTR", [{ label: "5", amount: 250 }]))
        const outcome = yield* Effect.promise(() => user.payInvoice())
        expect(outcome).toEqual({ status: "timeout" })
        const updates = yield* Effect.promise(() => api.getUpdates({ timeout: 0 }))
        const query = updates.find((u) => u.pre_checkout_query !== undefined)!.pre_checkout_query!
        expect(query).toMatchObject({ from: { id: 6102 }, currency: "XTR", total_amount: 250, invoice_payload: "pack:5" })
        const late = yield* Effect.promise(() => api.answerPreCheckoutQuery(query.id, true).catch((e: unknown) => e))
        expect(late).toMatchObject({ error_code: 400, description: "Bad Request: query is too old and response timeout expired or query ID is invalid" })
        expect(sim.starTransactions()).toEqual([])
      }))
  })
})
