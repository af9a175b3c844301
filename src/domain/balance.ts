import { Option, Schema } from "effect"

/** What a user can spend: paid credits and free tokens, counted in generation units. */
export class Balance extends Schema.Class<Balance>("Balance")({
  credits: Schema.Int.pipe(Schema.nonNegative()),
  freeTokens: Schema.Int.pipe(Schema.nonNegative())
}) {
  get total(): number {
    return this.credits + this.freeTokens
  }
  static readonly zero = new Balance({ credits: 0, freeTokens: 0 })
}

/** How a reservation was paid for; a refund gives back exactly this split. */
export class ReservationSplit extends Schema.Class<ReservationSplit>("ReservationSplit")({
  fromFreeTokens: Schema.Int.pipe(Schema.nonNegative()),
  fromCredits: Schema.Int.pipe(Schema.nonNegative())
}) {}

/** Free tokens are spent before paid credits; one job may use both. */
export const splitCost = (balance: Balance, cost: number): Option.Option<ReservationSplit> => {
  if (balance.total < cost) return Option.none()
  const fromFreeTokens = Math.min(balance.freeTokens, cost)
  return Option.some(new ReservationSplit({ fromFreeTokens, fromCredits: cost - fromFreeTokens }))
}
