/**
 * The credit packages on sale (STAR_PACKAGES, validated by AppConfig at start-up) and the
 * pure pre-checkout decision: yes only for an invoice this bot signed, for a package still
 * on sale at that price, paid in Stars, at the signed total, by the user it was made for.
 */
import { Either, type Redacted } from "effect"
import type { StarPackage } from "../config/index.js"
import { decodePayload, type InvoicePayload } from "./invoice-payload.js"

export const findPackage = (packages: ReadonlyArray<StarPackage>, credits: number): StarPackage | undefined =>
  packages.find((p) => p.credits === credits)

/** How a package is named in the `payments` table. */
export const packageName = (p: { readonly credits: number; readonly stars: number }) => `${p.credits}:${p.stars}`

export interface PreCheckoutQuery {
  readonly fromUserId: number
  readonly currency: string
  readonly totalAmount: number
  readonly invoicePayload: string
}

/** Why a checkout is refused; each has a short text for the user in every locale (src/i18n). */
export type Refusal =
  | "invalid-invoice"
  | "package-gone"
  | "price-changed"
  | "wrong-currency"
  | "wrong-amount"
  | "not-your-invoice"

export type PreCheckoutDecision =
  | { readonly ok: true; readonly payload: InvoicePayload }
  | { readonly ok: false; readonly refusal: Refusal }

export const decidePreCheckout = (
  query: PreCheckoutQuery,
  packages: ReadonlyArray<StarPackage>,
  secret: Redacted.Redacted<string>
): PreCheckoutDecision => {
  const decoded = decodePayload(secret, query.invoicePayload)
  if (Either.isLeft(decoded)) return { ok: false, refusal: "invalid-invoice" }
  const payload = decoded.right
  if (payload.userId !== query.fromUserId) return { ok: false, refusal: "not-your-invoice" }
  if (query.currency !== "XTR") return { ok: false, refusal: "wrong-currency" }
  if (query.totalAmount !== payload.stars) return { ok: false, refusal: "wrong-amount" }
  const onSale = findPackage(packages, payload.credits)
  if (onSale === undefined) return { ok: false, refusal: "package-gone" }
  if (onSale.stars !== payload.stars) return { ok: false, refusal: "price-changed" }
  return { ok: true, payload }
}
