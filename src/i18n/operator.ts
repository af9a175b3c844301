/**
 * What operators (ADMIN_IDS) read: command answers and alerts. English only, like the logs
 * and runbooks they go with; an admin's /stats is in their own language (Messages.stats).
 */
import { en } from "./en.js"
import type { Balance } from "../domain/balance.js"

/** A campaign's figures, as the sender counts them (src/storage/broadcasts-repo.ts). */
interface CampaignFigures {
  readonly pending: number
  readonly sending: number
  readonly sent: number
  readonly blocked: number
  readonly failed: number
}

const figures = (counts: CampaignFigures, total: number) =>
  `sent ${counts.sent} of ${total} · blocked ${counts.blocked} · failed ${counts.failed}`

export const operatorTexts = {
  adminHelp: "Admin: /stats today's and 7 days' figures · /grant <user id> <credits> <note> · /refund <charge id> · " +
    "/broadcast (as a reply to the message to send everyone)",
  grantUsage: "Usage: /grant <user id> <credits> <note>, for example /grant 12345 5 apology for outage",
  grantOutOfRange: (limit: number) =>
    `Refused: one /grant moves at most ${limit.toLocaleString("en-US")} credits, in either direction.`,
  grantNoSuchUser: (user: number) => `User ${user} has never used the bot.`,
  grantDone: (user: number, delta: number, balance: Balance) =>
    `Adjusted user ${user} by ${delta > 0 ? "+" : ""}${delta}. Their ${en.balanceLine(balance).toLowerCase()}`,
  grantRefused: (user: number, available: number) =>
    `Refused: user ${user} has only ${en.credits(available)} to take away.`,
  alert: (subject: string, detail: string) => `⚠️ Operator alert: ${subject}\n${detail}`,
  refundUsage: "Usage: /refund <telegram_payment_charge_id>",
  refundDone: (chargeId: string, userId: number, stars: number, credits: number) =>
    `Refunded ${stars} ⭐ of ${chargeId} to user ${userId}; ${en.credits(credits)} removed.`,
  refundNotFound: (chargeId: string) => `No payment ${chargeId} in the payments table.`,
  refundAlready: (chargeId: string) => `Payment ${chargeId} was already refunded.`,
  refundSpent: (chargeId: string, credits: number, available: number) =>
    `Not refunded: ${chargeId} granted ${en.credits(credits)} but the user has only ${available} left (already spent).`,
  refundTelegramFailed: (chargeId: string, detail: string) =>
    `Credits of ${chargeId} were removed but Telegram refused the refund (${detail}). Run /refund again; the credits are not removed twice.`,
  broadcastUsage: "Reply /broadcast to the message to send to every user: a text, or a photo or a video with its caption. " +
    "URL buttons go after the command, one per line: Label | https://example.com",
  broadcastUnsupported: "Only a text, a photo or a video can be broadcast.",
  broadcastBadButton: (line: string) =>
    `Not a button line (at most 8, each "Label | https://…"): ${line}`,
  broadcastConfirm: (id: number, users: number) =>
    `📣 Broadcast #${id}: the message above goes to ${users} user${users === 1 ? "" : "s"} who have not blocked the bot. Send it?`,
  broadcastSend: (users: number) => `✅ Send to ${users} user${users === 1 ? "" : "s"}`,
  broadcastDiscard: "✖️ Discard",
  broadcastDiscarded: (id: number) => `Broadcast #${id} discarded; nothing was sent.`,
  broadcastPause: "⏸ Pause",
  broadcastResume: "▶️ Resume",
  broadcastCancel: "⏹ Cancel",
  broadcastProgress: (id: number, state: "running" | "paused", counts: CampaignFigures, total: number) =>
    `📣 Broadcast #${id} ${state === "paused" ? "paused" : "sending"}: ${figures(counts, total)}`,
  broadcastReport: (id: number, state: "done" | "cancelled", counts: CampaignFigures, total: number) =>
    `📣 Broadcast #${id} ${state === "done" ? "finished" : "cancelled"}: ${figures(counts, total)}` +
    (counts.pending + counts.sending > 0 ? ` · not sent ${counts.pending + counts.sending}` : ""),
  broadcastNow: (state: string) => `This broadcast is ${state} now.`,
  broadcastNotFound: "No such broadcast."
} as const
