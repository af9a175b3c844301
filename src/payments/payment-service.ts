/**
 * The Stars purchase flow, from the invoice to the refund. Money moves only through
 * UserEntity (Grant keyed by telegram_payment_charge_id, RevokePayment keyed by the refund
 * request); this service decides, records the `payments` row and talks to Telegram.
 *
 * Credits reach the entity through a `CreditPort`: the entity's client by default, or the
 * entity's own functions when the caller already runs inside that user's entity (a bot
 * handler: a message to its own entity would wait behind the update being handled).
 */
import { Effect, Either, LogLevel, Option } from "effect"
import { logFailure } from "../observability/error-summary.js"
import { AppConfig, type StarPackage } from "../config/index.js"
import type { Balance } from "../domain/balance.js"
import { PaymentAlreadyRefunded, PaymentNotFound, UnverifiablePayment } from "../errors/payment-errors.js"
import { recordPayment } from "../observability/metrics.js"
import { type Language, languageOf, messagesFor } from "../i18n/index.js"
import { OperatorAlerts } from "../alerts/operator-alerts.js"
import { type StarsInvoice, TelegramGateway } from "../telegram/gateway.js"
import { UsersRepo } from "../storage/users-repo.js"
import { decodePayload, encodePayload, newNonce } from "./invoice-payload.js"
import { decidePreCheckout, findPackage, type PreCheckoutDecision, type PreCheckoutQuery } from "./packages.js"
import { type Payment, PaymentsRepo } from "./payments-repo.js"
import { PaymentSecret } from "./secret.js"
import { UserCredits, type CreditPort } from "./user-credits.js"

/** What a successful_payment message (or a Star transaction) says about a payment. */
export interface ReceivedPayment {
  readonly chargeId: string
  readonly userId: number
  readonly currency: string
  readonly totalAmount: number
  readonly invoicePayload: string
}

export interface CompletedPayment {
  readonly payment: Payment
  readonly balance: Balance
  /** False when this payment had been recorded before (a redelivery or a second runner). */
  readonly firstTime: boolean
}

export interface RefundedPayment {
  readonly payment: Payment
  readonly balance: Balance | undefined
}

export class PaymentService extends Effect.Service<PaymentService>()("app/PaymentService", {
  effect: Effect.gen(function*() {
    const config = yield* AppConfig
    const secret = yield* PaymentSecret
    const repo = yield* PaymentsRepo
    const users = yield* UsersRepo
    const gateway = yield* TelegramGateway
    const alerts = yield* OperatorAlerts
    const userCredits = yield* UserCredits

    const packages: ReadonlyArray<StarPackage> = config.starPackages

    const invoiceFor = (userId: number, credits: number, lang: Language): Option.Option<StarsInvoice> => {
      const onSale = findPackage(packages, credits)
      if (onSale === undefined) return Option.none()
      const texts = messagesFor(lang).payments
      return Option.some({
        title: texts.invoiceTitle(onSale),
        description: texts.invoiceDescription(onSale),
        label: texts.invoiceLabel(onSale),
        stars: onSale.stars,
        payload: encodePayload(secret, { credits: onSale.credits, stars: onSale.stars, userId, nonce: newNonce() })
      })
    }

    /** Sends the invoice for a package on sale; None when the package is not (a stale button). */
    const sendInvoice = Effect.fn("PaymentService.sendInvoice")(function*(
      chatId: number,
      userId: number,
      credits: number,
      lang: Language
    ) {
      const invoice = invoiceFor(userId, credits, lang)
      if (Option.isNone(invoice)) return Option.none<number>()
      return Option.some(yield* gateway.sendInvoice(chatId, invoice.value))
    })

    /** Decides and answers at once; nothing here waits on the cluster or the database. */
    const answerPreCheckout = Effect.fn("PaymentService.answerPreCheckout")(function*(
      queryId: string,
      query: PreCheckoutQuery,
      lang: Language
    ) {
      const decision: PreCheckoutDecision = decidePreCheckout(query, packages, secret)
      if (!decision.ok) {
        yield* Effect.logWarning("pre-checkout refused").pipe(
          Effect.annotateLogs({ refusal: decision.refusal, userId: query.fromUserId, totalAmount: query.totalAmount })
        )
      }
      yield* gateway.answerPreCheckoutQuery(queryId, decision.ok ? undefined : messagesFor(lang).payments.refusal[decision.refusal])
      return decision
    })

    const reportUnverifiable = (error: UnverifiablePayment) =>
      alerts.alert({
        subject: "payment cannot be matched",
        detail: `${error.message}. Refund it with /refund ${error.paymentId} if it is not yours to keep.`
      })

    /**
     * Records the payment and grants its credits, once per charge id however often it is
     * called. The package is the one the signed payload names, at the price it names: the
     * user paid that, even if the package has left STAR_PACKAGES since.
     */
    const completePayment = Effect.fn("PaymentService.completePayment")(function*(
      received: ReceivedPayment,
      via?: CreditPort
    ) {
      const decoded = decodePayload(secret, received.invoicePayload)
      const problem = Either.isLeft(decoded)
        ? "the payload was not signed by this bot"
        : decoded.right.userId !== received.userId
        ? `the invoice was made for user ${decoded.right.userId}`
        : received.currency !== "XTR"
        ? `currency ${received.currency}`
        : decoded.right.stars !== received.totalAmount
        ? `the invoice says ${decoded.right.stars} stars`
        : undefined
      if (problem !== undefined || Either.isLeft(decoded)) {
        const error = new UnverifiablePayment({
          paymentId: received.chargeId,
          userId: received.userId,
          stars: received.totalAmount,
          reason: problem ?? "unsigned"
        })
        // Kept as a zero-credit row, so reconciliation does not report it again and /refund finds it.
        const recorded = yield* repo.record({ chargeId: received.chargeId, userId: received.userId, stars: received.totalAmount, credits: 0 })
        if (recorded.inserted) yield* reportUnverifiable(error)
        return yield* error
      }
      const { credits, stars } = decoded.right
      const recorded = yield* repo.record({ chargeId: received.chargeId, userId: received.userId, stars, credits })
      if (recorded.payment.credits === 0) {
        return yield* new UnverifiablePayment({ paymentId: received.chargeId, userId: received.userId, stars, reason: "recorded as unmatched" })
      }
      const port = via ?? userCredits.forUser(received.userId)
      const balance = yield* port.grant(received.chargeId, credits)
      yield* repo.markCredited(received.chargeId)
      const payment = Option.getOrElse(yield* repo.find(received.chargeId), () => recorded.payment)
      yield* Effect.logInfo("payment credited").pipe(
        Effect.annotateLogs({ credits, stars, firstTime: recorded.inserted })
      )
      if (recorded.inserted) yield* recordPayment("credited", stars)
      return { payment, balance, firstTime: recorded.inserted } satisfies CompletedPayment
    }, Effect.catchTag("SqlError", Effect.die), (effect, received) =>
      // Every line of the payment (the alert of an unmatched one too) names the payer and the charge.
      Effect.annotateLogs(effect, { userId: received.userId, chargeId: received.chargeId }))

    /**
     * Takes back the payment's credits (refused when they are spent) and then returns the
     * Stars. `requestKey` names this refund request: a refusal is final for that key only.
     * Credits first: a Telegram failure after that leaves the row `refunding`, and running
     * the refund again retries Telegram without taking credits twice.
     */
    const refund = Effect.fn("PaymentService.refund")(function*(
      chargeId: string,
      requestKey: string,
      via?: (userId: number) => CreditPort
    ) {
      const found = yield* repo.find(chargeId)
      if (Option.isNone(found)) return yield* new PaymentNotFound({ paymentId: chargeId })
      const payment = found.value
      if (payment.state === "refunded") return yield* new PaymentAlreadyRefunded({ paymentId: chargeId })
      // An admin's /refund: the lines name the payer, not the admin who asked.
      return yield* Effect.gen(function*() {
        const port = via?.(payment.userId) ?? userCredits.forUser(payment.userId)
        if (payment.credits > 0 && payment.state === "received") {
          // Credited before any revoke can find the grant (a crash between the row and the grant).
          yield* port.grant(chargeId, payment.credits)
          yield* repo.markCredited(chargeId)
        }
        const balance = payment.credits > 0 ? yield* port.revoke(requestKey, chargeId) : undefined
        yield* repo.markRefunding(chargeId)
        yield* gateway.refundStarPayment(payment.userId, chargeId)
        yield* repo.markRefunded(chargeId)
        yield* recordPayment("refunded", payment.stars)
        const lang = languageOf(yield* users.languageOf(payment.userId))
        if (balance !== undefined) {
          yield* gateway.sendMessage(payment.userId, messagesFor(lang).payments.refunded(payment.stars, balance)).pipe(
            Effect.catchAll((error) => logFailure(LogLevel.Warning, "could not tell the user about the refund", error))
          )
        }
        yield* Effect.logInfo("payment refunded").pipe(
          Effect.annotateLogs({ stars: payment.stars, credits: payment.credits })
        )
        return { payment: Option.getOrElse(yield* repo.find(chargeId), () => payment), balance } satisfies RefundedPayment
      }).pipe(Effect.annotateLogs({ userId: payment.userId }))
    }, Effect.catchTag("SqlError", Effect.die), (effect, chargeId) => Effect.annotateLogs(effect, { chargeId }))

    return { packages, invoiceFor, sendInvoice, answerPreCheckout, completePayment, refund, reportUnverifiable } as const
  })
}) {}
