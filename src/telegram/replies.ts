/**
 * Typed failures of a job and whether retrying can help. Their words, in each language,
 * are src/i18n's (`failureText`); a failure class without them does not compile.
 */

/** Why a job ended without a video; stored in `jobs.error_class`. */
export type JobFailure =
  | { readonly _tag: "KieUserError"; readonly reason: string }
  | { readonly _tag: "KieTransientError"; readonly reason: string }
  | { readonly _tag: "KieOperatorError"; readonly reason: string }
  | { readonly _tag: "KieUnknownError"; readonly reason: string }
  | { readonly _tag: "Deadline" }
  | { readonly _tag: "PhotoUnavailable"; readonly reason: string }
  | { readonly _tag: "DeliveryFailed"; readonly reason: string }
  | { readonly _tag: "Cancelled" }
  /** The job's driver kept failing the same way (src/jobs/job-entity.ts gives up on it). */
  | { readonly _tag: "InternalError" }

/** Whether pressing "Try again" can help. */
export const retryHelps = (failure: JobFailure): boolean =>
  failure._tag !== "KieUserError" && failure._tag !== "PhotoUnavailable" && failure._tag !== "Cancelled"
