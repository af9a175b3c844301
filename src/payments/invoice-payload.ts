/**
 * The invoice payload: which package, for whom, and a nonce, signed with the payments
 * secret. Telegram hands it back untouched in pre_checkout_query and successful_payment,
 * and the user never sees it, but anyone can craft an invoice or a payment form with any
 * payload, so nothing in it is trusted until the signature verifies (in constant time).
 *
 * Format (ASCII, well under Telegram's 128 bytes): `v1.<credits>.<stars>.<userId>.<nonce>.<mac>`,
 * mac = the first 16 bytes of HMAC-SHA256(secret, everything before it), base64url.
 */
import { Either, Redacted } from "effect"
import { createHmac, randomBytes, timingSafeEqual } from "node:crypto"

export interface InvoicePayload {
  readonly credits: number
  readonly stars: number
  readonly userId: number
  readonly nonce: string
}

export type PayloadProblem = "malformed" | "bad-signature"

const VERSION = "v1"
const MAC_BYTES = 16

const mac = (secret: Redacted.Redacted<string>, body: string): Buffer =>
  createHmac("sha256", Redacted.value(secret)).update(body).digest().subarray(0, MAC_BYTES)

export const newNonce = (): string => randomBytes(8).toString("base64url")

export const encodePayload = (secret: Redacted.Redacted<string>, payload: InvoicePayload): string => {
  const body = [VERSION, payload.credits, payload.stars, payload.userId, payload.nonce].join(".")
  return `${body}.${mac(secret, body).toString("base64url")}`
}

const positiveInt = /^[1-9]\d{0,14}$/

export const decodePayload = (
  secret: Redacted.Redacted<string>,
  raw: string
): Either.Either<InvoicePayload, PayloadProblem> => {
  const parts = raw.split(".")
  if (parts.length !== 6) return Either.left("malformed")
  const [version, credits, stars, userId, nonce, signature] = parts as [string, string, string, string, string, string]
  if (
    version !== VERSION || !positiveInt.test(credits) || !positiveInt.test(stars) || !positiveInt.test(userId) ||
    !/^[A-Za-z0-9_-]{1,32}$/.test(nonce) || !/^[A-Za-z0-9_-]+$/.test(signature)
  ) {
    return Either.left("malformed")
  }
  const given = Buffer.from(signature, "base64url")
  const expected = mac(secret, parts.slice(0, 5).join("."))
  // Equal lengths first: timingSafeEqual throws otherwise, and the length is no secret.
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return Either.left("bad-signature")
  return Either.right({ credits: Number(credits), stars: Number(stars), userId: Number(userId), nonce })
}
