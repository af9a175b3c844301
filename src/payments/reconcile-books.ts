/**
 * The bot's own books, checked without Telegram:
 * - every paid grant in the ledger names a payment row of the same user and credits (a
 *   grant without one is credit nobody paid for: a forged message, or a bug);
 * - a refund stuck at `refunding` (credits taken back, Stars not returned) is reported
 *   for as long as it lasts, since the user is owed Stars until someone acts.
 * Both read in bounded pages; the ledger is read from a stored cursor.
 */
import { Effect, Option } from "effect"
import { CreditLedger, type LedgerEntry } from "../storage/credit-ledger.js"
import { type Payment, PaymentsRepo } from "./payments-repo.js"
import type { Findings } from "./reconciliation-findings.js"
import { ReconciliationStore } from "./reconciliation-store.js"

const CURSOR = "paid-grants"
/** Rows read per statement. */
const BATCH = 500
/**
 * Ledger ids are taken when a row is inserted but visible when its transaction commits, so
 * a row can appear below ids already read; each pass reads the last this many ids again.
 */
const LEDGER_LOOK_BACK_IDS = 10_000

const grantProblem = (grant: LedgerEntry, payment: Option.Option<Payment>): string | undefined =>
  Option.match(payment, {
    onNone: () =>
      `ledger entry ${grant.id} grants ${grant.deltaCredits} credit(s) to user ${grant.userId} for payment ${grant.paymentId ?? "(none)"}, which the payments table does not have`,
    onSome: (payment) =>
      payment.userId === grant.userId && payment.credits === grant.deltaCredits
        ? undefined
        : `ledger entry ${grant.id} grants ${grant.deltaCredits} credit(s) to user ${grant.userId} for payment ${grant.paymentId}, which the payments table records as ${payment.credits} credit(s) for user ${payment.userId}`
  })

/** Compares the paid grants since the cursor with their payments; returns how many it read. */
export const checkPaidGrants = (findings: Findings) =>
  Effect.gen(function*() {
    const store = yield* ReconciliationStore
    const ledger = yield* CreditLedger
    const repo = yield* PaymentsRepo
    const stored = yield* store.cursor(CURSOR)
    const last = Option.match(stored, { onNone: () => 0, onSome: (cursor) => cursor.position })
    let after = Math.max(0, last - LEDGER_LOOK_BACK_IDS)
    let checked = 0
    for (;;) {
      const grants = yield* ledger.paidGrantsAfter(after, BATCH)
      const payments = yield* repo.findMany(grants.flatMap((grant) => grant.paymentId ?? []))
      for (const grant of grants) {
        const payment = Option.fromNullable(grant.paymentId === undefined ? undefined : payments.get(grant.paymentId))
        const problem = grantProblem(grant, payment)
        if (problem !== undefined) yield* findings.report(`grant-unpaid:${grant.id}`, "paid grant without its payment", problem)
      }
      checked += grants.length
      after = grants.at(-1)?.id ?? after
      if (grants.length < BATCH) break
    }
    if (after > last) yield* store.saveCursor(CURSOR, { position: after, marker: undefined })
    return checked
  })

/** Reports the refunds that started before `startedBefore` (epoch ms) and are still `refunding`. */
export const reportStuckRefunds = (findings: Findings, startedBefore: number) =>
  Effect.gen(function*() {
    const repo = yield* PaymentsRepo
    let after = ""
    for (;;) {
      const rows = yield* repo.stuckRefunds(startedBefore, after, BATCH)
      for (const row of rows) {
        yield* findings.report(
          `refund-stuck:${row.chargeId}`,
          "refund not confirmed by Telegram",
          `payment ${row.chargeId} (${row.stars} stars from user ${row.userId}) is refunding: its ${row.credits} credit(s) were taken back but Telegram lists no refund; /refund ${row.chargeId} tries again`
        )
      }
      after = rows.at(-1)?.chargeId ?? after
      if (rows.length < BATCH) break
    }
  })
