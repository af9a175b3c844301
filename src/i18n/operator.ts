/**
 * What operators (ADMIN_IDS) read: command answers and alerts. English only, like the logs
 * and runbooks they go with; an admin's /stats is in their own language (Messages.stats).
 */
import { en } from "./en.js"
import type { Balance } from "../domain/balance.js"

export const operatorTexts = {
  adminHelp: "Admin: /stats today's and 7 days' figures · /grant <user id> <credits> <note> · /refund <charge id>",
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
    `Credits of ${chargeId} were removed but Telegram refused the refund (${detail}). Run /refund again; the credits are not removed twice.`
} as const
