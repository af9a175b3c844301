/** Identifier generators that look like Telegram's (opaque base64url strings, sequential numbers). */
import { randomBytes } from "node:crypto"

export const randomToken = (bytes: number): string => randomBytes(bytes).toString("base64url")

/** Unix time in seconds, the unit of every `date` field. */
export const unixTime = (now: number = Date.now()): number => Math.floor(now / 1000)
