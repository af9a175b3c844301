/**
 * What operators (ADMIN_IDS) read: command answers and alerts. English only, like the logs
 * and runbooks they go with; an admin's /stats is in their own language (Messages.stats).
 */
import { en } from "./en.js"
import type { Balance } from "../domain/balance.js"

/** Who wrote a support request, as their update says. */
export interface SupportSender {
  readonly id: number
  readonly name: string
  readonly username: string | undefined
  readonly language: string | undefined
}

export interface PaymentLine {
  readonly paidAt: string
  readonly stars: number
  readonly credits: number
  readonly state: string
}

/** What /forget erased (src/protocols/user-protocol.ts, ForgetReport). */
export interface ForgetSummary {
  readonly profile: boolean
  readonly settings: boolean
  readonly jobs: number
  readonly unfinishedJobs: number
  readonly supportRecords: number
  readonly setAsideUpdates: number
  readonly updates: number
}

const forgotAnything = (r: ForgetSummary) =>
  r.profile || r.settings || r.jobs + r.supportRecords + r.setAsideUpdates + r.updates > 0

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
    "/promo_new <CODE> <credits> <max uses> [expires] · /promo_list · /promo_disable <CODE> · " +
    "/forget <user id> deletes a user's data · reply to a support message to answer it · " +
    "/broadcast (as a reply to the message to send everyone)",
  /** The admins' lines of the command menu (src/telegram/commands.ts). */
  commandMenu: {
    stats: "Today's and 7 days' figures",
    grant: "<user id> <credits> <note>: adjust credits",
    refund: "<charge id>: refund a Stars payment",
    forget: "<user id>: delete a user's data",
    promo_new: "<CODE> <credits> <max uses> [expires]: new promo code",
    promo_list: "Promo codes and their uses",
    promo_disable: "<CODE>: stop a promo code",
    broadcast: "Reply it to a message: send that to every user"
  },
  grantUsage: "Usage: /grant <user id> <credits> <note>, for example /grant 12345 5 apology for outage",
  grantOutOfRange: (limit: number) =>
    `Refused: one /grant moves at most ${limit.toLocaleString("en-US")} credits, in either direction.`,
  grantNoSuchUser: (user: number) => `User ${user} has never used the bot.`,
  grantDone: (user: number, delta: number, balance: Balance) =>
    `Adjusted user ${user} by ${delta > 0 ? "+" : ""}${delta}. Their ${en.balanceLine(balance).toLowerCase()}`,
  grantRefused: (user: number, available: number) =>
    `Refused: user ${user} has only ${en.credits(available)} to take away.`,
  alert: (subject: string, detail: string) => `⚠️ Operator alert: ${subject}\n${detail}`,
  supportRequest: (from: SupportSender, balance: Balance, payments: ReadonlyArray<PaymentLine>, message: string) =>
    `✉️ Support request from ${from.name}${from.username === undefined ? "" : ` (@${from.username})`}, ` +
    `user ${from.id}${from.language === undefined ? "" : `, language ${from.language}`}\n` +
    `${en.balanceLine(balance)}\n` +
    `Last payments: ${
      payments.length === 0
        ? "none"
        : payments.map((p) => `${p.paidAt} ${p.stars} ⭐ → ${en.credits(p.credits)} (${p.state})`).join("; ")
    }\n\n${message}\n\n↩️ Reply to this message to answer; /forget ${from.id} deletes their data.`,
  /** A message without text, described for the admins. */
  supportAttachment: (kind: string, caption: string | undefined) =>
    `[${kind}: only its caption is relayed]${caption === undefined ? "" : ` ${caption}`}`,
  supportAnswerSent: (userId: number) => `Sent to user ${userId}.`,
  /** To the other admins, so that a request is answered once. */
  supportAnsweredBy: (admin: string, userId: number, answer: string) => `${admin} answered user ${userId}:\n${answer}`,
  supportAnswerNotText: "Only text answers reach the user. Please reply with text.",
  supportAnswerFailed: (userId: number, detail: string) => `Could not send your answer to user ${userId}: ${detail}`,
  forgetUsage: "Usage: /forget <user id>, for example /forget 12345",
  forgetDone: (userId: number, r: ForgetSummary, told: string) =>
    (forgotAnything(r)
      ? `Deleted the data of user ${userId}: ${r.profile ? "profile, " : ""}${r.settings ? "settings, " : ""}` +
        `captions and photos of ${r.jobs} videos, ${r.supportRecords} support records, ${r.setAsideUpdates} set-aside updates, ${r.updates} stored messages. ` +
        `Kept, as the law requires: payments and the credit ledger. ${told}`
      : `Nothing left to delete for user ${userId}: their data was already deleted.`) +
    (r.unfinishedJobs > 0
      ? ` ${r.unfinishedJobs} unfinished videos keep their photo and caption until they end; run /forget again then.`
      : ""),
  forgetTold: "They have been told.",
  forgetNotTold: (detail: string) => `They could not be told: ${detail}`,
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
  broadcastPreviewFailed: (reason: string) => `Telegram refused the preview, so nothing will be sent: ${reason}`,
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
  broadcastNotFound: "No such broadcast.",
  promoUsage: "Usage: /promo_new <CODE> <credits> <max uses> [expires], for example /promo_new SPRING25 3 100 2026-12-31\n" +
    "expires: a UTC day (valid through it), a UTC time like 2026-12-31T18:00, or a span like 7d or 12h; none: never.",
  promoBadCode: (raw: string) => `Refused: “${raw}” is not a code. Use 3 to 32 letters, digits, _ or -.`,
  promoOutOfRange: (maxCredits: number, maxUses: number) =>
    `Refused: credits must be 1 to ${maxCredits} and max uses 1 to ${maxUses.toLocaleString("en-US")}.`,
  promoBadExpiry: (raw: string) => `Refused: “${raw}” is no expiry. Use 2026-12-31, 2026-12-31T18:00, 7d or 12h.`,
  promoExpiryPast: "Refused: that expiry is already past.",
  promoExists: (code: string) => `Refused: the code ${code} exists already (codes are never reused, even disabled ones).`,
  promoCreated: (code: string, credits: number, maxUses: number, expires: string, link: string) =>
    `Created ${code}: ${en.credits(credits)} (free) per user, at most ${maxUses} uses, ${expires}.\n` +
    `Users send /promo ${code}, or open ${link}`,
  promoNever: "no expiry",
  promoExpiresAt: (iso: string) => `expires ${iso} UTC`,
  promoListEmpty: "No promo codes yet. Create one with /promo_new.",
  promoListLine: (code: string, credits: number, uses: number, maxUses: number, state: string) =>
    `${code}: ${en.credits(credits)}, used ${uses}/${maxUses}, ${state}`,
  promoActive: "active",
  promoDisabledState: "disabled",
  promoExpiredState: "expired",
  promoUsedUpState: "used up",
  promoDisableUsage: "Usage: /promo_disable <CODE>",
  promoDisabled: (code: string) => `Disabled ${code}: it is refused from now on; redemptions already made stay.`,
  promoNotFound: (code: string) => `There is no active promo code ${code}.`
} as const
