/**
 * What one reconciliation pass found and how it tells the operators: every disagreement is
 * listed in the pass's report and log line, and alerted the first time a pass finds it and
 * again at most once per `realertAfter` while it lasts (the last alert time is stored per
 * disagreement, so passes every 10 minutes do not repeat it and a restart does not forget it).
 */
import type { SqlError } from "@effect/sql/SqlError"
import { Duration, Effect } from "effect"
import { OperatorAlerts } from "../alerts/operator-alerts.js"
import { ReconciliationStore } from "./reconciliation-store.js"

export interface ReconciliationOptions {
  /**
   * A payment younger than this that the bot has not recorded yet is left for a later
   * pass: its successful_payment is most likely being handled right now, and the user
   * would otherwise be told twice. A refund younger than this is not reported as stuck.
   * 0 counts everything.
   */
  readonly graceSeconds: number
  /** Each pass reads again the Star transactions of this last stretch of time. */
  readonly lookBack: Duration.DurationInput
  /** A disagreement that lasts is alerted again after this long. */
  readonly realertAfter: Duration.DurationInput
}

export const defaultReconciliationOptions: ReconciliationOptions = {
  graceSeconds: 120,
  lookBack: "48 hours",
  realertAfter: "24 hours"
}

export interface ReconciliationReport {
  /** Star transactions read, and the getStarTransactions calls that read them. */
  readonly transactions: number
  readonly pages: number
  /** The offset the pass started reading at (0 on a first pass or when the list moved). */
  readonly fromOffset: number
  /** Paid grants of the ledger compared with their payments. */
  readonly grantsChecked: number
  /** Payments credited by this pass (missed, or stuck before their grant). */
  readonly credited: ReadonlyArray<string>
  /** Refunds the bot started that Telegram now confirms. */
  readonly refundsConfirmed: ReadonlyArray<string>
  /** Every disagreement found by this pass, alerted now or not. */
  readonly mismatches: ReadonlyArray<string>
  /** Those of them alerted by this pass. */
  readonly alerted: ReadonlyArray<string>
}

export interface Findings {
  /** The pass's time, epoch ms. */
  readonly now: number
  readonly credited: Array<string>
  readonly refundsConfirmed: Array<string>
  readonly mismatches: Array<string>
  readonly alerted: Array<string>
  /** Lists a disagreement; `key` names it and its subject, e.g. `refund-stuck:<charge id>`. */
  readonly report: (key: string, subject: string, detail: string) => Effect.Effect<void, SqlError>
}

export const makeFindings = (
  options: ReconciliationOptions,
  now: number
): Effect.Effect<Findings, never, ReconciliationStore | OperatorAlerts> =>
  Effect.gen(function*() {
    const store = yield* ReconciliationStore
    const alerts = yield* OperatorAlerts
    const realertAfter = Duration.toMillis(options.realertAfter)
    const credited: Array<string> = []
    const refundsConfirmed: Array<string> = []
    const mismatches: Array<string> = []
    const alerted: Array<string> = []

    const report = (key: string, subject: string, detail: string) =>
      Effect.gen(function*() {
        mismatches.push(detail)
        if (!(yield* store.claimAlert(key, now, realertAfter))) return
        alerted.push(detail)
        yield* alerts.alert({ subject, detail })
      })

    return { now, credited, refundsConfirmed, mismatches, alerted, report } as const
  })
