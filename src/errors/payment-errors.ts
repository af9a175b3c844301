/**
 * Failures of the Stars payment flow. The ones a UserEntity message can answer with cross
 * the cluster, so all are Schema.TaggedError; each is a final answer for its request key.
 */
import { Schema } from "effect"

/** The user's ledger holds no grant for this payment. */
export class PaymentNotFound extends Schema.TaggedError<PaymentNotFound>()("PaymentNotFound", {
  paymentId: Schema.String
}) {
  get message() {
    return `no payment ${this.paymentId}`
  }
}

/** A refund would take back credits the user has already used. */
export class CreditsAlreadySpent extends Schema.TaggedError<CreditsAlreadySpent>()("CreditsAlreadySpent", {
  paymentId: Schema.String,
  credits: Schema.Int,
  available: Schema.Int
}) {
  get message() {
    return `payment ${this.paymentId} granted ${this.credits} credit(s) but only ${this.available} are left`
  }
}

/** The payment was refunded before. */
export class PaymentAlreadyRefunded extends Schema.TaggedError<PaymentAlreadyRefunded>()("PaymentAlreadyRefunded", {
  paymentId: Schema.String
}) {
  get message() {
    return `payment ${this.paymentId} was already refunded`
  }
}

/** A successful_payment whose payload this bot did not sign: money arrived that names no package. */
export class UnverifiablePayment extends Schema.TaggedError<UnverifiablePayment>()("UnverifiablePayment", {
  paymentId: Schema.String,
  userId: Schema.Int,
  stars: Schema.Int,
  reason: Schema.String
}) {
  get message() {
    return `payment ${this.paymentId} of ${this.stars} stars from ${this.userId} cannot be matched: ${this.reason}`
  }
}

export const RevokeError = Schema.Union(PaymentNotFound, CreditsAlreadySpent)
export type RevokeError = typeof RevokeError.Type
