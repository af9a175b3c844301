/**
 * Identifiers shared by entity messages, SQL rows and callback data.
 */
import { Schema } from "effect"
import { createHash } from "node:crypto"

/** A Telegram user id; also the UserEntity id. */
export const UserId = Schema.Int.pipe(Schema.positive(), Schema.brand("UserId"))
export type UserId = typeof UserId.Type

/** The JobEntity id, derived from the user and the request that started the job. */
export const JobId = Schema.String.pipe(Schema.pattern(/^job_[0-9a-f]{24}$/), Schema.brand("JobId"))
export type JobId = typeof JobId.Type

/** The job id is a function of the request, so a redelivered request finds its own job. */
export const jobIdFor = (userId: UserId, requestKey: string): JobId =>
  JobId.make(`job_${createHash("sha256").update(`${userId}:${requestKey}`).digest("hex").slice(0, 24)}`)

/** Identifies the Telegram update (or button press) that asked for something. */
export const RequestKey = Schema.String.pipe(Schema.minLength(1), Schema.maxLength(128))
export type RequestKey = typeof RequestKey.Type
