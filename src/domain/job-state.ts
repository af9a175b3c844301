import { Schema } from "effect"

/** Where a job stands; the last three are terminal (see docs/architecture.md for the steps). */
export const JobState = Schema.Literal(
  "queued",
  "submitting",
  "polling",
  "delivering",
  "delivered",
  "refunded",
  "failed"
)
export type JobState = typeof JobState.Type
