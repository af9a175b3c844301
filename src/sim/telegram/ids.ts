/** Identifier generators that look like Telegram's (opaque base64url strings, sequential numbers). */
import { randomBytes } from "node:crypto"

export const randomToken = (bytes: number): string => randomBytes(bytes).toString("base64url")

/** Unix time in seconds, the unit of every `date` field. */
export const unixTime = (now: number = Date.now()): number => Math.floor(now / 1000)

/**
 * The id of a query the user's own action opens (a button press, a checkout): the user's id
 * then six digits, so whoever reads the bot's answers can tell whose query one answers.
 */
export const userQueryId = (userId: number, sequence: number): string => `${userId}${String(sequence).padStart(6, "0")}`

export const isUserQueryId = (userId: number, queryId: string): boolean =>
  queryId.length > 6 && queryId.slice(0, -6) === String(userId)
