/**
 * Identifiers shared by entity messages, SQL rows and callback data.
 */
import { Schema } from "effect"

/** A Telegram user id; also the UserEntity id. */
export const UserId = Schema.Int.pipe(Schema.positive(), Schema.brand("UserId"))
export type UserId = typeof UserId.Type

/** The JobEntity id, derived from the user and the request that started the job. */
export const JobId = Schema.String.pipe(Schema.pattern(/^job_[0-9a-f]{24}$/), Schema.brand("JobId"))
export type JobId = typeof JobId.Type

/** Identifies the Telegram update (or button press) that asked for something. */
export const RequestKey = Schema.String.pipe(Schema.minLength(1), Schema.maxLength(128))
export type RequestKey = typeof RequestKey.Type
