/**
 * Why a job ended without a video: a closed union, stored in `jobs.error_class` and
 * `jobs.error_detail`. Decoding a stored pair refuses a class it does not know, so a row
 * written by a newer version (or by hand) is an error, never silently another failure.
 */
import { Either, ParseResult, Schema } from "effect"

const withReason = <Tag extends string>(tag: Tag) => Schema.TaggedStruct(tag, { reason: Schema.String })

export const JobFailure = Schema.Union(
  withReason("KieUserError"),
  withReason("KieTransientError"),
  withReason("KieOperatorError"),
  withReason("KieUnknownError"),
  Schema.TaggedStruct("Deadline", {}),
  withReason("PhotoUnavailable"),
  withReason("DeliveryFailed"),
  Schema.TaggedStruct("Cancelled", {}),
  /** The job kept failing the same way and was ended (src/jobs/job-entity.ts). */
  Schema.TaggedStruct("InternalError", {})
)
export type JobFailure = typeof JobFailure.Type

/** The two columns a failure is stored in. */
export const StoredFailure = Schema.Struct({
  error_class: Schema.String,
  error_detail: Schema.NullOr(Schema.String)
})

/** A failure as its two columns; decoding refuses an unknown class or a missing reason. */
export const JobFailureFromColumns = Schema.transformOrFail(StoredFailure, JobFailure, {
  strict: true,
  decode: (stored, _, ast) =>
    ParseResult.decodeUnknown(JobFailure)(
      stored.error_detail === null ? { _tag: stored.error_class } : { _tag: stored.error_class, reason: stored.error_detail }
    ).pipe(
      ParseResult.mapError(() => new ParseResult.Type(ast, stored, `not a known job failure: class "${stored.error_class}", detail ${JSON.stringify(stored.error_detail)}`))
    ),
  encode: (failure) =>
    ParseResult.succeed({ error_class: failure._tag, error_detail: "reason" in failure ? failure.reason : null })
})

export const decodeJobFailure = Schema.decodeUnknownEither(JobFailureFromColumns)
export const encodeJobFailure = (failure: JobFailure) =>
  Either.getOrThrow(Schema.encodeEither(JobFailureFromColumns)(failure))

/** Whether pressing "Try again" can help. */
export const retryHelps = (failure: JobFailure): boolean =>
  failure._tag !== "KieUserError" && failure._tag !== "PhotoUnavailable" && failure._tag !== "Cancelled"
