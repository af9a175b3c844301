/**
 * The admins' `/promo_new CODE credits max_uses [expires]`, read into a new promo code or
 * the reason it cannot be one. `expires` is a UTC day (`2026-12-31`: valid through that
 * day), a UTC time (`2026-12-31T18:00`) or a span from now (`7d`, `12h`).
 */
import { Option } from "effect"
import { type PromoCode, promoCodeOf } from "../domain/growth.js"

/** The most credits one code grants, and the most uses it allows. */
export const promoLimits = { credits: 1000, uses: 1_000_000 } as const

export type ParsedPromo =
  | {
    readonly _tag: "Promo"
    readonly code: PromoCode
    readonly credits: number
    readonly maxUses: number
    readonly expiresAtMs: number | undefined
  }
  | { readonly _tag: "Usage" }
  | { readonly _tag: "BadCode"; readonly raw: string }
  | { readonly _tag: "OutOfRange" }
  | { readonly _tag: "BadExpiry"; readonly raw: string }
  | { readonly _tag: "ExpiryPast" }

const hourMs = 3_600_000

/** Epoch milliseconds of `raw` relative to `nowMs`, or undefined when it is no expiry. */
export const parseExpiry = (raw: string, nowMs: number): number | undefined => {
  const span = /^(\d{1,4})([dh])$/.exec(raw)
  if (span !== null) {
    const amount = Number(span[1])
    return amount > 0 ? nowMs + amount * (span[2] === "d" ? 24 : 1) * hourMs : undefined
  }
  const day = /^(\d{4})-(\d{2})-(\d{2})$/.exec(raw)
  const time = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})$/.exec(raw)
  const parts = day ?? time
  if (parts === null) return undefined
  const [year, month, date] = [Number(parts[1]), Number(parts[2]), Number(parts[3])]
  const [hours, minutes] = time === null ? [24, 0] : [Number(time[4]), Number(time[5])]
  if (month < 1 || month > 12 || date < 1 || date > 31 || hours > 24 || minutes > 59) return undefined
  const millis = Date.UTC(year, month - 1, date, hours, minutes)
  // Date.UTC rolls 2026-02-31 over into March; such a day is a typo, not a date.
  return new Date(Date.UTC(year, month - 1, date)).getUTCDate() === date ? millis : undefined
}

const whole = (raw: string) => /^\d{1,9}$/.test(raw) ? Number(raw) : undefined

export const parsePromo = (args: string, nowMs: number): ParsedPromo => {
  const words = args.trim().split(/\s+/).filter((word) => word !== "")
  if (words.length < 3 || words.length > 4) return { _tag: "Usage" }
  const [rawCode, rawCredits, rawUses, rawExpiry] = words as [string, string, string, string | undefined]
  const code = promoCodeOf(rawCode)
  if (Option.isNone(code)) return { _tag: "BadCode", raw: rawCode }
  const credits = whole(rawCredits)
  const maxUses = whole(rawUses)
  if (credits === undefined || maxUses === undefined) return { _tag: "Usage" }
  if (credits < 1 || credits > promoLimits.credits || maxUses < 1 || maxUses > promoLimits.uses) {
    return { _tag: "OutOfRange" }
  }
  const expiresAtMs = rawExpiry === undefined ? undefined : parseExpiry(rawExpiry, nowMs)
  if (rawExpiry !== undefined && expiresAtMs === undefined) return { _tag: "BadExpiry", raw: rawExpiry }
  if (expiresAtMs !== undefined && expiresAtMs <= nowMs) return { _tag: "ExpiryPast" }
  return { _tag: "Promo", code: code.value, credits, maxUses, expiresAtMs }
}
