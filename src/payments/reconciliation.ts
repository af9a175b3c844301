/**
 * Reconciliation: Telegram's list of Star transactions is the truth about money received,
 * and the ledger must agree with the payments. Each pass
 * - checks the ledger's paid grants since its cursor against `payments`
 *   (reconcile-books.ts);
 * - reads the Star transactions from where the last pass's look-back window began
 *   (reconcile-star-transactions.ts): a payment the bot never saw is credited through the
 *   same PaymentService path as a live one, so once however often this runs; a row stuck
 *   before its grant is completed; a refund the bot asked for is confirmed;
 * - reports refunds stuck at `refunding`.
 * Anything that disagrees is reported to the operators (see reconciliation-findings.ts for
 * how often). Memory and statements are bounded by a page, whatever the history's length.
 * It runs as a cluster Singleton: one runner at a time, moving on when that runner stops.
 */
import { Singleton } from "@effect/cluster"
import { Cause, Clock, Duration, Effect, Schedule } from "effect"
import { checkPaidGrants, reportStuckRefunds } from "./reconcile-books.js"
import { reconcileStarTransactions } from "./reconcile-star-transactions.js"
import {
  defaultReconciliationOptions,
  makeFindings,
  type ReconciliationOptions,
  type ReconciliationReport
} from "./reconciliation-findings.js"

export { defaultReconciliationOptions, type ReconciliationOptions, type ReconciliationReport }

/** One pass. */
export const reconcile = (overrides: Partial<ReconciliationOptions> = {}) =>
  Effect.gen(function*() {
    const options = { ...defaultReconciliationOptions, ...overrides }
    const now = yield* Clock.currentTimeMillis
    const nowSeconds = Math.floor(now / 1000)
    // The window must outlast the grace, or a payment left for later would never be read again.
    const lookBackSeconds = Math.max(Duration.toSeconds(options.lookBack), options.graceSeconds + 3600)
    const findings = yield* makeFindings(options, now)

    const grantsChecked = yield* checkPaidGrants(findings)
    const walk = yield* reconcileStarTransactions({
      windowFrom: nowSeconds - lookBackSeconds,
      // No grace counts everything, whatever the clock says (tests run on a TestClock).
      newestCounted: options.graceSeconds > 0 ? nowSeconds - options.graceSeconds : Number.POSITIVE_INFINITY
    }, findings)
    yield* reportStuckRefunds(findings, options.graceSeconds > 0 ? now - options.graceSeconds * 1000 : Number.MAX_SAFE_INTEGER)

    const report: ReconciliationReport = {
      ...walk,
      grantsChecked,
      credited: findings.credited,
      refundsConfirmed: findings.refundsConfirmed,
      mismatches: findings.mismatches,
      alerted: findings.alerted
    }
    yield* Effect.logInfo("payments reconciled").pipe(
      Effect.annotateLogs({
        transactions: report.transactions,
        pages: report.pages,
        fromOffset: report.fromOffset,
        grantsChecked,
        credited: report.credited.length,
        refundsConfirmed: report.refundsConfirmed.length,
        mismatches: report.mismatches.length,
        alerted: report.alerted.length
      })
    )
    return report
  }).pipe(Effect.catchTag("SqlError", Effect.die), Effect.withSpan("Payments.reconcile"))

/**
 * One pass every `interval` (the first at start-up), on exactly one runner. A failed pass
 * (Telegram down, say) is logged and the next one tries again from the stored cursors.
 */
export const reconciliationSingleton = (
  interval: Duration.DurationInput = "10 minutes",
  options: Partial<ReconciliationOptions> = {}
) =>
  Singleton.make(
    "payments-reconciliation",
    reconcile(options).pipe(
      Effect.catchAllCause((cause) =>
        Cause.isInterruptedOnly(cause) ? Effect.failCause(cause) : Effect.logError("payments reconciliation failed", cause)
      ),
      Effect.repeat(Schedule.spaced(interval)),
      Effect.asVoid
    )
  )
