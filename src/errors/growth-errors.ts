/**
 * Why a promo code was not redeemed. Each reason has its own answer to the user, in their
 * language (src/i18n/messages.ts, `promo.refused`).
 */
import { Schema } from "effect"

export const PromoRefusalReason = Schema.Literal("unknown", "already-redeemed", "disabled", "expired", "exhausted")
export type PromoRefusalReason = typeof PromoRefusalReason.Type

export class PromoRefused extends Schema.TaggedError<PromoRefused>()("PromoRefused", {
  code: Schema.String,
  reason: PromoRefusalReason
}) {
  get message() {
    return `promo code ${this.code} refused: ${this.reason}`
  }
}
