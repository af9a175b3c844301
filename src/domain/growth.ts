/**
 * The codes of invitations and promotions, as they appear in commands and deep links.
 * A `start` parameter may hold only A-Z, a-z, 0-9, _ and - and at most 64 characters.
 */
import { Option, Schema } from "effect"
import { UserId } from "./ids.js"

const invitePrefix = "ref_"
const promoPrefix = "promo_"

/** The inviter's personal `start` parameter: their id in base 36, short and link-safe. */
export const inviteCodeOf = (userId: UserId) => `${invitePrefix}${userId.toString(36)}`

/** The inviter named by a `start` parameter, if it is an invitation. */
export const inviterOf = (startParameter: string): Option.Option<UserId> => {
  const match = /^ref_([0-9a-z]{1,12})$/.exec(startParameter.trim())
  if (match === null) return Option.none()
  const id = parseInt(match[1]!, 36)
  return Number.isSafeInteger(id) && id > 0 ? Option.some(UserId.make(id)) : Option.none()
}

/** A promo code: 3 to 32 letters, digits, _ or -; stored and compared in upper case. */
export const PromoCode = Schema.String.pipe(Schema.pattern(/^[A-Z0-9_-]{3,32}$/), Schema.brand("PromoCode"))
export type PromoCode = typeof PromoCode.Type

/** What a user typed, as a code (case does not matter), or None when it cannot be one. */
export const promoCodeOf = (raw: string): Option.Option<PromoCode> => {
  const upper = raw.trim().toUpperCase()
  return Schema.is(PromoCode)(upper) ? Option.some(PromoCode.make(upper)) : Option.none()
}

/** The code in a `start=promo_CODE` deep link. */
export const promoCodeOfStart = (startParameter: string): Option.Option<PromoCode> =>
  startParameter.startsWith(promoPrefix) ? promoCodeOf(startParameter.slice(promoPrefix.length)) : Option.none()

/** The `start` parameter that redeems `code`, for links an operator hands out. */
export const promoStartParameter = (code: PromoCode) => `${promoPrefix}${code}`
