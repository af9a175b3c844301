/**
 * Reconciliation: Telegram's list of Star transactions is the truth about money received.
 * Each pass pages through getStarTransactions and compares it with `payments`:
 * - a payment the bot never saw (its successful_payment was lost) is credited through the
 *   same PaymentService path as a live one, so it is credited once however often this runs;
 * - a row stuck before its grant (a crash in between) is completed;
 * - a refund the bot asked for is confirmed; anything else that disagrees is reported to
 *   the operators.
 * It runs as a cluster Singleton: one runner at a time, moving on when that runner stops.
 */
import { Singleton } from "@effect/cluster"
import { Cause, Clock, Duration, Effect, Either, LogLevel, Schedule } from "effect"
import { logFailure } from "../observability/error-summary.js"
import { OperatorAlerts } from "../kie/operator-alerts.js"
import { TelegramGateway, type StarTransactionEntry } from "../telegram/gateway.js"
import { languageOf } from "../telegram/texts.js"
import { PaymentService } from "./payment-service.js"
import { PaymentsRepo } from "./payments-repo.js"
import { paymentTexts } from "./texts.js"

export interface ReconciliationReport {
  readonly transactions: number
  /** Payments credited by this pass (missed, or stuck before their grant). */
  readonly credited: ReadonlyArray<string>
  /** Refunds the bot started that Telegram now confirms. */
  readonly refundsConfirmed: ReadonlyArray<string>
  /** Disagreements reported to the operators. */
  readonly mismatches: ReadonlyArray<string>
}

const PAGE = 100

/**
 * One pass. A payment younger than `graceSeconds` that the bot has not recorded yet is left
 * for the next pass: its successful_payment is most likely being handled right now, and
 * the user would otherwise be told twice. 0 counts every payment.
 */
export const reconcile = (graceSeconds: number) => Effect.gen(function*() {
  const gateway = yield* TelegramGateway
  const repo = yield* PaymentsRepo
  const payments = yield* PaymentService
  const alerts = yield* OperatorAlerts

  const all: Array<StarTransactionEntry> = []
  for (let offset = 0;; offset += PAGE) {
    const page = yield* gateway.getStarTransactions(offset, PAGE)
    all.push(...page)
    if (page.length < PAGE) break
  }
  const incoming = all.filter((t) => t.direction === "incoming" && t.userId !== undefined)
  const refundedIds = new Set(all.filter((t) => t.direction === "outgoing" && t.userId !== undefined).map((t) => t.id))
  const rows = yield* repo.findMany([...new Set([...incoming.map((t) => t.id), ...refundedIds])])
  const newestCounted = Math.floor((yield* Clock.currentTimeMillis) / 1000) - graceSeconds

  const credited: Array<string> = []
  const refundsConfirmed: Array<string> = []
  const mismatches: Array<string> = []
  const mismatch = (subject: string, detail: string) =>
    Effect.suspend(() => {
      mismatches.push(detail)
      return alerts.alert({ subject, detail })
    })

  for (const transaction of incoming) {
    const userId = transaction.userId!
    const row = rows.get(transaction.id)
    const refunded = refundedIds.has(transaction.id)
    if (row === undefined && refunded) {
      yield* mismatch(
        "payment refunded outside the bot",
        `payment ${transaction.id} of ${transaction.amount} stars from user ${userId} was never seen by the bot and is already refunded; nothing credited`
      )
      continue
    }
    if (graceSeconds > 0 && row === undefined && transaction.date > newestCounted) continue
    if (row === undefined || (row.state === "received" && row.credits > 0)) {
      const completed = yield* payments.completePayment({
        chargeId: transaction.id,
        userId,
        currency: "XTR",
        totalAmount: transaction.amount,
        invoicePayload: transaction.invoicePayload ?? ""
      }).pipe(Effect.either)
      if (Either.isLeft(completed)) {
        // completePayment has reported it (and recorded a zero-credit row) already.
        mismatches.push(completed.left.message)
        continue
      }
      credited.push(transaction.id)
      if (row === undefined) {
        yield* mismatch(
          "payment credited by reconciliation",
          `payment ${transaction.id} (${completed.right.payment.credits} credits, ${transaction.amount} stars) from user ${userId} never reached the bot; credited now`
        )
        const lang = languageOf(yield* repo.languageOf(userId))
        yield* gateway.sendMessage(userId, paymentTexts(lang).creditedLate(completed.right.payment.credits, completed.right.balance)).pipe(
          Effect.catchAll((error) => logFailure(LogLevel.Warning, "could not tell the user about a reconciled payment", error))
        )
      }
      continue
    }
    if (row.userId !== userId || row.stars !== transaction.amount) {
      yield* mismatch(
        "payment differs from Telegram's record",
        `payment ${transaction.id}: Telegram says ${transaction.amount} stars from user ${userId}, the payments table says ${row.stars} stars from user ${row.userId}`
      )
    }
    if (refunded && row.state === "refunding") {
      yield* repo.markRefunded(transaction.id)
      refundsConfirmed.push(transaction.id)
    } else if (refunded && row.state !== "refunded") {
      yield* mismatch(
        "payment refunded outside the bot",
        `payment ${transaction.id} was refunded in Telegram but its ${row.credits} credit(s) were not taken back; use /refund ${transaction.id} to do so`
      )
    } else if (!refunded && row.state === "refunded") {
      yield* mismatch(
        "refund missing in Telegram",
        `payment ${transaction.id} is marked refunded but Telegram lists no refund for it`
      )
    }
  }
  const report: ReconciliationReport = { transactions: all.length, credited, refundsConfirmed, mismatches }
  yield* Effect.logInfo("payments reconciled").pipe(
    Effect.annotateLogs({
      transactions: report.transactions,
      credited: credited.length,
      refundsConfirmed: refundsConfirmed.length,
      mismatches: mismatches.length
    })
  )
  return report
}).pipe(Effect.catchTag("SqlError", Effect.die), Effect.withSpan("Payments.reconcile"))

/**
 * One pass every `interval` (the first at start-up), on exactly one runner. A failed pass
 * (Telegram down, say) is logged and the next one tries again.
 */
export const reconciliationSingleton = (interval: Duration.DurationInput = "10 minutes", graceSeconds = 120) =>
  Singleton.make(
    "payments-reconciliation",
    reconcile(graceSeconds).pipe(
      Effect.catchAllCause((cause) =>
        Cause.isInterruptedOnly(cause) ? Effect.failCause(cause) : Effect.logError("payments reconciliation failed", cause)
      ),
      Effect.repeat(Schedule.spaced(interval)),
      Effect.asVoid
    )
  )
