/**
 * Telegram Stars payments: invoices the bot sends or links it creates, a user opening one and
 * paying (pre_checkout_query → answerPreCheckoutQuery within the deadline → successful_payment),
 * refunds, and the bot's Star transactions. Knobs let a test drop the successful_payment update
 * or deliver it twice.
 */
import type { Message, Update, User } from "grammy/types"
import { badRequest, queryTooOld } from "./api-error.js"
import type { Chats } from "./chats.js"
import { randomToken, unixTime, userQueryId } from "./ids.js"
import type { Params } from "./spec-validation.js"
import type { Updates } from "./updates.js"

export interface LabeledPrice {
  readonly label: string
  readonly amount: number
}

export interface Invoice {
  readonly title: string
  readonly description: string
  readonly payload: string
  readonly currency: string
  readonly prices: ReadonlyArray<LabeledPrice>
  readonly total_amount: number
  readonly start_parameter: string | undefined
  readonly subscription_period: number | undefined
  /** Where it was sent (sendInvoice) ... */
  readonly chatId: number | undefined
  readonly messageId: number | undefined
  /** ... or the link created for it (createInvoiceLink). */
  readonly link: string | undefined
}

/** An invoice the bot never issued, for tests of tampered payloads, amounts or currencies. */
export interface ForgedInvoice {
  readonly payload: string
  readonly currency: string
  readonly total_amount: number
}

/**
 * What happens to the successful_payment update: delivered once (default), dropped (the payment
 * happened but the bot never hears of it), twice as two updates, or twice with the same update_id.
 */
export type SuccessfulPaymentDelivery = "once" | "drop" | "twice" | "twice-same-update-id"

export type PaymentOutcome =
  | {
    readonly status: "paid"
    readonly chargeId: string
    readonly message: Message
    /** The updates that carried it (none when dropped). */
    readonly updates: ReadonlyArray<Update>
  }
  | { readonly status: "rejected"; readonly errorMessage: string }
  | { readonly status: "timeout" }

export interface PreCheckoutAnswer {
  readonly queryId: string
  readonly ok: boolean
  readonly errorMessage: string | undefined
}

export interface StarTransaction {
  readonly id: string
  readonly amount: number
  readonly date: number
  readonly source?: Record<string, unknown>
  readonly receiver?: Record<string, unknown>
}

export interface PastPayment {
  readonly user: User
  readonly amount: number
  readonly payload: string
  /** Unix seconds. */
  readonly date: number
  readonly chargeId?: string | undefined
}

interface Charge {
  readonly id: string
  readonly user: User
  readonly amount: number
  readonly payload: string
  refunded: boolean
}

interface PendingQuery {
  readonly settle: (answer: PreCheckoutAnswer | "timeout") => void
}

export class Payments {
  private readonly issued: Array<Invoice> = []
  private readonly pending = new Map<string, PendingQuery>()
  private readonly answers: Array<PreCheckoutAnswer> = []
  private readonly charges = new Map<string, Charge>()
  private readonly ledger: Array<StarTransaction> = []
  private queryCounter = 0

  constructor(
    private readonly chats: Chats,
    private readonly updates: Updates,
    private readonly preCheckoutTimeoutMs: number
  ) {}

  /** Records an invoice checked by `checkInvoice`, with where it was sent or linked. */
  issue(terms: InvoiceTerms, where: { chatId: number; messageId: number } | { link: string }): Invoice {
    const invoice: Invoice = {
      ...terms,
      chatId: "chatId" in where ? where.chatId : undefined,
      messageId: "messageId" in where ? where.messageId : undefined,
      link: "link" in where ? where.link : undefined
    }
    this.issued.push(invoice)
    return invoice
  }

  invoices(): ReadonlyArray<Invoice> {
    return this.issued
  }

  preCheckoutAnswers(): ReadonlyArray<PreCheckoutAnswer> {
    return this.answers
  }

  /** The user opens the invoice and confirms: pre-checkout, then the payment if the bot agrees. */
  async pay(user: User, invoice: Invoice | ForgedInvoice, delivery: SuccessfulPaymentDelivery): Promise<PaymentOutcome> {
    const queryId = userQueryId(user.id, ++this.queryCounter)
    const subscriptionPeriod = "subscription_period" in invoice ? invoice.subscription_period : undefined
    const answer = new Promise<PreCheckoutAnswer | "timeout">((resolve) => {
      const timer = setTimeout(() => {
        this.pending.delete(queryId)
        resolve("timeout")
      }, this.preCheckoutTimeoutMs)
      this.pending.set(queryId, {
        settle: (a) => {
          clearTimeout(timer)
          this.pending.delete(queryId)
          resolve(a)
        }
      })
    })
    this.updates.push({
      pre_checkout_query: {
        id: queryId,
        from: user,
        currency: invoice.currency,
        total_amount: invoice.total_amount,
        invoice_payload: invoice.payload
      }
    })
    const result = await answer
    if (result === "timeout") return { status: "timeout" }
    if (!result.ok) return { status: "rejected", errorMessage: result.errorMessage ?? "" }

    const chargeId = `stx${randomToken(48)}`
    const charge: Charge = { id: chargeId, user, amount: invoice.total_amount, payload: invoice.payload, refunded: false }
    this.charges.set(chargeId, charge)
    this.ledger.push({
      id: chargeId,
      amount: invoice.total_amount,
      date: unixTime(),
      source: {
        type: "user",
        transaction_type: "invoice_payment",
        user,
        invoice_payload: invoice.payload,
        ...(subscriptionPeriod === undefined ? {} : { subscription_period: subscriptionPeriod })
      }
    })
    const stored = this.chats.append(user.id, "user", (base) => ({
      ...base,
      successful_payment: {
        currency: invoice.currency,
        total_amount: invoice.total_amount,
        invoice_payload: invoice.payload,
        telegram_payment_charge_id: chargeId,
        provider_payment_charge_id: `${user.id}_${this.charges.size}`,
        ...(subscriptionPeriod === undefined
          ? {}
          : { subscription_expiration_date: base.date + subscriptionPeriod, is_recurring: true, is_first_recurring: true })
      }
    }))
    const message = stored.message
    const updates: Array<Update> = []
    const push = (copies: number) => {
      const update = this.updates.push({ message: message as Update["message"] & Message }, copies)
      if (update !== undefined) for (let i = 0; i < copies; i++) updates.push(update)
    }
    switch (delivery) {
      case "once":
        push(1)
        break
      case "twice":
        push(1)
        push(1)
        break
      case "twice-same-update-id":
        push(2)
        break
      case "drop":
        break
    }
    return { status: "paid", chargeId, message, updates }
  }

  answerPreCheckout(params: Params): true {
    const queryId = String(params["pre_checkout_query_id"])
    const ok = params["ok"] === true
    const errorMessage = params["error_message"] as string | undefined
    if (!ok && (errorMessage === undefined || errorMessage === "")) throw badRequest("ERROR_MESSAGE_EMPTY")
    const pending = this.pending.get(queryId)
    if (pending === undefined) throw queryTooOld()
    const answer: PreCheckoutAnswer = { queryId, ok, errorMessage }
    this.answers.push(answer)
    pending.settle(answer)
    return true
  }

  refund(params: Params): true {
    const userId = params["user_id"] as number
    const chargeId = params["telegram_payment_charge_id"] as string
    const charge = this.charges.get(chargeId)
    if (charge === undefined || charge.user.id !== userId) throw badRequest("CHARGE_NOT_FOUND")
    if (charge.refunded) throw badRequest("CHARGE_ALREADY_REFUNDED")
    charge.refunded = true
    this.ledger.push({
      id: chargeId,
      amount: charge.amount,
      date: unixTime(),
      receiver: { type: "user", transaction_type: "invoice_payment", user: charge.user, invoice_payload: charge.payload }
    })
    const stored = this.chats.append(charge.user.id, "user", (base) => ({
      ...base,
      refunded_payment: {
        currency: "XTR",
        total_amount: charge.amount,
        invoice_payload: charge.payload,
        telegram_payment_charge_id: chargeId
      }
    }))
    this.updates.push({ message: stored.message as Update["message"] & Message })
    return true
  }

  transactions(params: Params): { transactions: Array<StarTransaction> } {
    const offset = (params["offset"] as number | undefined) ?? 0
    const limit = (params["limit"] as number | undefined) ?? 100
    if (limit < 1 || limit > 100) throw badRequest("limit must be between 1 and 100")
    if (offset < 0) throw badRequest("offset must be non-negative")
    return { transactions: this.ledger.slice(offset, offset + limit) }
  }

  /**
   * A payment made in the past, for tests that need a long history quickly: no invoice,
   * pre-checkout, message or update, only the charge and its transaction at `date`. The
   * caller keeps the history in chronological order, as Telegram lists it.
   */
  recordPastPayment(past: PastPayment): string {
    const chargeId = past.chargeId ?? `stx${randomToken(48)}`
    this.charges.set(chargeId, { id: chargeId, user: past.user, amount: past.amount, payload: past.payload, refunded: false })
    this.ledger.push({
      id: chargeId,
      amount: past.amount,
      date: past.date,
      source: { type: "user", transaction_type: "invoice_payment", user: past.user, invoice_payload: past.payload }
    })
    return chargeId
  }

  /** A refund made in the past (see recordPastPayment), without its refunded_payment message. */
  recordPastRefund(chargeId: string, date: number): void {
    const charge = this.charges.get(chargeId)
    if (charge === undefined || charge.refunded) throw new Error(`no refundable charge ${chargeId}`)
    charge.refunded = true
    this.ledger.push({
      id: chargeId,
      amount: charge.amount,
      date,
      receiver: { type: "user", transaction_type: "invoice_payment", user: charge.user, invoice_payload: charge.payload }
    })
  }

  allTransactions(): ReadonlyArray<StarTransaction> {
    return this.ledger
  }

  /** The bot's balance: payments minus refunds. */
  balance(): number {
    return this.ledger.reduce((sum, t) => sum + (t.source !== undefined ? t.amount : -t.amount), 0)
  }

  close(): void {
    for (const query of this.pending.values()) query.settle("timeout")
  }
}

export type InvoiceTerms = Omit<Invoice, "chatId" | "messageId" | "link">

/** Validates sendInvoice/createInvoiceLink parameters as Telegram does for Stars. */
export const checkInvoice = (params: Params): InvoiceTerms => {
  const title = params["title"] as string
  const description = params["description"] as string
  const payload = params["payload"] as string
  const currency = params["currency"] as string
  const providerToken = params["provider_token"] as string | undefined
  const prices = params["prices"] as Array<Partial<LabeledPrice>>
  const subscriptionPeriod = params["subscription_period"] as number | undefined
  if ([...title].length < 1 || [...title].length > 32) throw badRequest("INVOICE_TITLE_INVALID")
  if ([...description].length < 1 || [...description].length > 255) throw badRequest("INVOICE_DESCRIPTION_INVALID")
  const payloadBytes = Buffer.byteLength(payload, "utf8")
  if (payloadBytes < 1 || payloadBytes > 128) throw badRequest("INVOICE_PAYLOAD_INVALID")
  if (currency !== "XTR") throw badRequest("the simulator only supports payments in Telegram Stars (XTR)")
  if (providerToken !== undefined && providerToken !== "") throw badRequest("PAYMENT_PROVIDER_INVALID")
  if (prices.length !== 1) throw badRequest("STARS_INVOICE_INVALID")
  for (const price of prices) {
    if (typeof price.label !== "string" || typeof price.amount !== "number" || !Number.isInteger(price.amount)) {
      throw badRequest("can't parse prices JSON object")
    }
  }
  const total = prices.reduce((sum, p) => sum + (p.amount ?? 0), 0)
  if (total < 1 || total > 100_000) throw badRequest("CURRENCY_TOTAL_AMOUNT_INVALID")
  if (subscriptionPeriod !== undefined && subscriptionPeriod !== 2592000) throw badRequest("SUBSCRIPTION_PERIOD_INVALID")
  return {
    title,
    description,
    payload,
    currency,
    prices: prices as Array<LabeledPrice>,
    total_amount: total,
    start_parameter: params["start_parameter"] as string | undefined,
    subscription_period: subscriptionPeriod
  }
}
