/**
 * Failures of the credit ledger. They cross the cluster (entity replies), so they are
 * Schema.TaggedError, and each is a final answer for the request that caused it.
 */
import { Schema } from "effect"

export class InsufficientCredits extends Schema.TaggedError<InsufficientCredits>()("InsufficientCredits", {
  required: Schema.Int,
  available: Schema.Int,
  shortfall: Schema.Int
}) {
  get message() {
    return `needs ${this.required} unit(s), has ${this.available} (short by ${this.shortfall})`
  }
}

export class ReservationNotFound extends Schema.TaggedError<ReservationNotFound>()("ReservationNotFound", {
  jobId: Schema.String
}) {
  get message() {
    return `no reservation for job ${this.jobId}`
  }
}

/** Capture after Refund, or Refund after Capture: a job is settled exactly once. */
export class JobAlreadySettled extends Schema.TaggedError<JobAlreadySettled>()("JobAlreadySettled", {
  jobId: Schema.String,
  settledAs: Schema.Literal("capture", "refund")
}) {
  get message() {
    return `job ${this.jobId} was already settled as ${this.settledAs}`
  }
}

export const SettlementError = Schema.Union(ReservationNotFound, JobAlreadySettled)
export type SettlementError = typeof SettlementError.Type
