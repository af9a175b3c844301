/**
 * The bot's own books, checked without Telegram:
 * - every paid grant in the ledger names a payment row of the same user and credits (a
 *   grant without one is credit nobody paid for: a forged message, or a bug);
 * - a refund stuck at `refunding` (credits taken back, Stars not returned) is reported
 *   for as long as it lasts, since the user is owed Stars until someone acts.
 * Both read in bounded pages; the ledger is read from a stored cursor.
 */
import { Effect, Option } from "effect"
import { PaymentsRepo } from "./payments-repo.js"
import type { Findings } from "./reconciliation-findings.js"
import { type PaidGrant, ReconciliationStore } from "./reconciliation-store.js"

const CURSOR = "paid-grants"
/** Rows read per statement. */
const BATCH = 500
/**
 * Ledger ids are taken when a row is inserted but visible when its transaction commits, so
 * a row can appear below ids already read; each pass reads the last this many ids again.
 */
const LEDGER_LOOK_BACK_IDS = 10_000

const grantProblem = (grant: PaidGrant): string | undefined =>
  Option.match(grant.payment, {
    onNone: () =>
      `ledger entry ${grant.ledgerId} grants ${grant.credits} credit(s) to user ${grant.userId} for payment ${grant.paymentId ?? "(none)"}, which the payments table does not have`,
    onSome: (payment) =>
      payment.userId === grant.userId && payment.credits === grant.credits
        ? undefined
        : `ledger entry ${grant.ledgerId} grants ${grant.credits} credit(s) to user ${grant.userId} for payment ${grant.paymentId}, which the payments table records as ${payment.credits} credit(s) for user ${payment.userId}`
  })

/** Compares the paid grants since the cursor with their payments; returns how many it read. */
export const checkPaidGrants = (findings: Findings) =>
  Effect.gen(function*() {
    const store = yield* ReconciliationStore
    const stored = yield* store.cursor(CURSOR)
    const last = Option.match(stored, { onNone: () => 0, onSome: (cursor) => cursor.position })
    let after = Math.max(0, last - LEDGER_LOOK_BACK_IDS)
    let checked = 0
    for (;;) {
      const grants = yield* store.paidGrants(after, BATCH)
      for (const grant of grants) {
        const problem = grantProblem(grant)
        if (problem !== undefined) yield* findings.report(`grant-unpaid:${grant.ledgerId}`, "paid grant without its payment", problem)
      }
      checked += grants.length
      after = grants.at(-1)?.ledgerId ?? after
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
