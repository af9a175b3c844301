/**
 * The Star transaction side of reconciliation: Telegram's list is the truth about money
 * received and returned.
 *
 * Order and paging: the Bot API documents getStarTransactions as "in chronological order"
 * (oldest first), and the Bot API server asks for it so (TDLib sets the `ascending` flag
 * for bots); `offset` counts transactions to skip. An append-only list read from an offset
 * is stable, so a stored offset is a cursor. Each pass starts at the first transaction of
 * the look-back window of the previous pass, so whatever Telegram recorded late or changed
 * recently is read again, and everything before it was settled by an earlier pass. The
 * pass checks that the transaction just before its start is the one it stored there; if
 * not (the list is not what we assumed), it reads the whole history, which is slow but
 * still correct and bounded in memory.
 *
 * Each page is compared with `payments` through one lookup of its ids. A refund reuses
 * the payment's id, so a refund of a payment older than the window finds its row by id.
 */
import { Effect, Either, LogLevel, Option } from "effect"
import { logFailure } from "../observability/error-summary.js"
import { TelegramGateway, type StarTransactionEntry } from "../telegram/gateway.js"
import { UsersRepo } from "../storage/users-repo.js"
import { languageOf, messagesFor } from "../i18n/index.js"
import { PaymentService } from "./payment-service.js"
import { type Payment, PaymentsRepo } from "./payments-repo.js"
import type { Findings } from "./reconciliation-findings.js"
import { ReconciliationStore } from "./reconciliation-store.js"

const CURSOR = "star-transactions"
/** The most getStarTransactions returns at once. */
export const PAGE = 100
/** While a first pass reads history older than the window, it saves its place this often. */
const CHECKPOINT_PAGES = 50
/** The most payments a pass holds while it waits to see whether a later transaction refunds them. */
const HELD_AT_MOST = 1_000

const markerOf = (transaction: StarTransactionEntry) =>
  `${transaction.direction}:${transaction.id}:${transaction.date}`

export interface WalkWindow {
  /** Transactions dated from here on (unix seconds) are read again by the next pass. */
  readonly windowFrom: number
  /** Payments dated after this (unix seconds) that the bot has not recorded are left for later. */
  readonly newestCounted: number
}

export const reconcileStarTransactions = (window: WalkWindow, findings: Findings) =>
  Effect.gen(function*() {
    const gateway = yield* TelegramGateway
    const repo = yield* PaymentsRepo
    const users = yield* UsersRepo
    const payments = yield* PaymentService
    const store = yield* ReconciliationStore

    // Paid but never recorded: credited when the pass has read past them (a refund later
    // in the list means nothing is owed).
    const unrecorded = new Map<string, StarTransactionEntry>()
    // Marked refunded by the bot: Telegram's refund should come later in the list.
    const awaitingRefund = new Map<string, Payment>()
    // Unrecorded but within the grace: the next pass decides them and their refunds.
    const leftForLater = new Set<string>()

    const creditUnrecorded = (transaction: StarTransactionEntry) =>
      Effect.gen(function*() {
        const userId = transaction.userId!
        const completed = yield* payments.completePayment({
          chargeId: transaction.id,
          userId,
          currency: "XTR",
          totalAmount: transaction.amount,
          invoicePayload: transaction.invoicePayload ?? ""
        }).pipe(Effect.either)
        if (Either.isLeft(completed)) {
          // completePayment has reported it (and recorded a zero-credit row) already.
          findings.mismatches.push(completed.left.message)
          return
        }
        findings.credited.push(transaction.id)
        // Not the first time: the live path recorded it meanwhile and has told the user.
        if (!completed.right.firstTime) return
        const credits = completed.right.payment.credits
        yield* findings.report(
          `credited-late:${transaction.id}`,
          "payment credited by reconciliation",
          `payment ${transaction.id} (${credits} credits, ${transaction.amount} stars) from user ${userId} never reached the bot; credited now`
        )
        const lang = languageOf(yield* users.languageOf(userId))
        yield* gateway.sendMessage(userId, messagesFor(lang).payments.creditedLate(credits, completed.right.balance)).pipe(
          Effect.catchAll((error) => logFailure(LogLevel.Warning, "could not tell the user about a reconciled payment", error))
        )
      })

    const reportRefundMissing = (row: Payment) =>
      findings.report(
        `refund-missing:${row.chargeId}`,
        "refund missing in Telegram",
        `payment ${row.chargeId} is marked refunded but Telegram lists no refund for it`
      )

    /** Decides what was held, oldest first, until at most `keep` of each remain. */
    const settle = (keep: number) =>
      Effect.gen(function*() {
        for (const [id, transaction] of unrecorded) {
          if (unrecorded.size <= keep) break
          unrecorded.delete(id)
          yield* creditUnrecorded(transaction)
        }
        for (const [id, row] of awaitingRefund) {
          if (awaitingRefund.size <= keep) break
          awaitingRefund.delete(id)
          yield* reportRefundMissing(row)
        }
      })

    const incoming = (transaction: StarTransactionEntry, row: Payment | undefined) =>
      Effect.gen(function*() {
        const userId = transaction.userId!
        if (row === undefined) {
          if (transaction.date <= window.newestCounted) unrecorded.set(transaction.id, transaction)
          else leftForLater.add(transaction.id)
          return
        }
        if (row.state === "received" && row.credits > 0) {
          // Recorded, then a crash before its grant: the same path completes it, once.
          return yield* creditUnrecorded(transaction)
        }
        if (row.userId !== userId || row.stars !== transaction.amount) {
          yield* findings.report(
            `differs:${transaction.id}`,
            "payment differs from Telegram's record",
            `payment ${transaction.id}: Telegram says ${transaction.amount} stars from user ${userId}, the payments table says ${row.stars} stars from user ${row.userId}`
          )
        }
        if (row.state === "refunded") awaitingRefund.set(transaction.id, row)
      })

    const outgoing = (transaction: StarTransactionEntry, row: Payment | undefined) =>
      Effect.gen(function*() {
        awaitingRefund.delete(transaction.id)
        if (leftForLater.has(transaction.id)) return
        if (unrecorded.delete(transaction.id)) {
          return yield* findings.report(
            `refunded-unrecorded:${transaction.id}`,
            "payment refunded outside the bot",
            `payment ${transaction.id} of ${transaction.amount} stars from user ${transaction.userId} was never seen by the bot and is already refunded; nothing credited`
          )
        }
        if (row === undefined) {
          return yield* findings.report(
            `refund-unknown:${transaction.id}`,
            "refund of an unknown payment",
            `Telegram refunded ${transaction.amount} stars to user ${transaction.userId} for payment ${transaction.id}, which the payments table does not have`
          )
        }
        if (row.state === "refunding") {
          yield* repo.markRefunded(transaction.id)
          findings.refundsConfirmed.push(transaction.id)
        } else if (row.state !== "refunded") {
          yield* findings.report(
            `refunded-outside:${transaction.id}`,
            "payment refunded outside the bot",
            `payment ${transaction.id} was refunded in Telegram but its ${row.credits} credit(s) were not taken back; use /refund ${transaction.id} to do so`
          )
        }
      })

    const stored = Option.getOrUndefined(yield* store.cursor(CURSOR))
    // Start one before the stored position, at the transaction that names it.
    let anchor = stored !== undefined && stored.position > 0 ? stored.marker : undefined
    let fromOffset = stored !== undefined && anchor !== undefined ? stored.position - 1 : 0
    let offset = fromOffset
    let pages = 0
    let transactions = 0
    let previousMarker: string | undefined
    let windowStart: { readonly position: number; readonly marker: string | undefined } | undefined

    const saveCursor = () => store.saveCursor(CURSOR, windowStart ?? { position: offset, marker: previousMarker })

    for (;;) {
      const page = yield* gateway.getStarTransactions(offset, PAGE)
      pages++
      let first = 0
      if (anchor !== undefined) {
        if (page[0] === undefined || markerOf(page[0]) !== anchor) {
          yield* Effect.logWarning("Star transactions are not where the last reconciliation left them; reading all of them")
          anchor = undefined
          offset = fromOffset = 0
          continue
        }
        // Decided by an earlier pass: it only tells that the list has not moved.
        anchor = undefined
        first = 1
        previousMarker = markerOf(page[0])
      }
      const ids = page.slice(first).filter((t) => t.userId !== undefined).map((t) => t.id)
      const rows = yield* repo.findMany([...new Set(ids)])
      for (let index = first; index < page.length; index++) {
        const transaction = page[index]!
        if (windowStart === undefined && transaction.date >= window.windowFrom) {
          windowStart = { position: offset + index, marker: previousMarker }
        }
        previousMarker = markerOf(transaction)
        transactions++
        // Transfers that are not a user's payment (withdrawals, ads) are not the bot's to check.
        if (transaction.userId === undefined) continue
        const row = rows.get(transaction.id)
        yield* transaction.direction === "incoming" ? incoming(transaction, row) : outgoing(transaction, row)
      }
      offset += page.length
      yield* settle(HELD_AT_MOST)
      if (page.length < PAGE) break
      if (windowStart === undefined && pages % CHECKPOINT_PAGES === 0) {
        // Everything read so far is older than the window: decide it and move the cursor.
        yield* settle(0)
        yield* saveCursor()
      }
    }
    yield* settle(0)
    yield* saveCursor()
    return { transactions, pages, fromOffset } as const
  })
