/**
 * Every way a KIE call can go wrong, as exactly one of four classes. The class alone
 * decides the retry schedule (src/kie/retry-schedules.ts), the supervision (operator
 * errors open the circuit breaker and alert) and what the user is told. They cross the
 * cluster inside job replies, hence Schema.TaggedError.
 *
 * `raw` is KIE's answer text, truncated and scrubbed of anything that looks like a
 * credential (see `redactRaw` in src/kie/classify.ts); it never holds request headers.
 */
import { Schema } from "effect"

export const KieOperation = Schema.Literal("upload", "createTask", "recordInfo", "credits")
export type KieOperation = typeof KieOperation.Type

// What operators need to understand a failure without reproducing it.
const details = {
  operation: KieOperation,
  /** HTTP status of the answer, when there was one. */
  status: Schema.optional(Schema.Int),
  /** The envelope's `code` (KIE reports most errors as HTTP 200 with this). */
  code: Schema.optional(Schema.Int),
  msg: Schema.optional(Schema.String),
  taskId: Schema.optional(Schema.String),
  failCode: Schema.optional(Schema.String),
  failMsg: Schema.optional(Schema.String),
  raw: Schema.optional(Schema.String)
}

const describe = (e: {
  readonly operation: string
  readonly reason: string
  readonly status?: number | undefined
  readonly code?: number | undefined
  readonly msg?: string | undefined
  readonly failCode?: string | undefined
  readonly failMsg?: string | undefined
  readonly taskId?: string | undefined
}) =>
  [
    `KIE ${e.operation}: ${e.reason}`,
    e.taskId !== undefined ? `task ${e.taskId}` : undefined,
    e.status !== undefined ? `HTTP ${e.status}` : undefined,
    e.code !== undefined ? `code ${e.code}` : undefined,
    e.msg !== undefined && e.msg !== "" ? `"${e.msg}"` : undefined,
    e.failCode !== undefined && e.failCode !== "" ? `failCode ${e.failCode}` : undefined,
    e.failMsg !== undefined && e.failMsg !== "" ? `failMsg "${e.failMsg}"` : undefined
  ].filter((part) => part !== undefined).join(", ")

/** The user's input was refused: no retry, refund, tell the user what to change. */
export class KieUserError extends Schema.TaggedError<KieUserError>()("KieUserError", {
  reason: Schema.Literal("ContentPolicy", "UnusableImage", "PromptRejected", "PromptTooLong", "PromptLanguage"),
  ...details
}) {
  get retryable(): boolean {
    return false
  }
  get message() {
    return describe(this)
  }
}

/** KIE is busy or unreachable for a while: retry with backoff, within a bound. */
export class KieTransientError extends Schema.TaggedError<KieTransientError>()("KieTransientError", {
  reason: Schema.Literal(
    "RateLimited",
    "Maintenance",
    "ServerBusy",
    "ServerUnavailable",
    "GenerationBusy",
    "TaskNotYetVisible",
    "Timeout",
    "Transport"
  ),
  ...details
}) {
  get retryable(): boolean {
    return true
  }
  get message() {
    return describe(this)
  }
}

/** Our account or configuration is broken: never retried, intake pauses, operators are alerted. */
export class KieOperatorError extends Schema.TaggedError<KieOperatorError>()("KieOperatorError", {
  reason: Schema.Literal(
    "BadApiKey",
    "AccountOutOfCredits",
    "KeyCapReached",
    "ModelDisabled",
    "UnknownModel",
    "NotFound",
    "InvalidRequest",
    "BlockedByCloudflare",
    /** A finished task's result URL is not on KIE's hosts: not fetched (src/kie/result-url.ts). */
    "UntrustedResultUrl"
  ),
  ...details
}) {
  get retryable(): boolean {
    return false
  }
  get message() {
    return describe(this)
  }
}

/** Nothing recognisable: a few attempts, then refund; the raw answer is kept for a human. */
export class KieUnknownError extends Schema.TaggedError<KieUnknownError>()("KieUnknownError", {
  reason: Schema.Literal(
    "ServerError",
    "GenerationFailed",
    "MalformedAnswer",
    "TaskLost",
    "SubmitOutcomeUnknown",
    "Unrecognised"
  ),
  ...details
}) {
  get retryable(): boolean {
    return true
  }
  get message() {
    return describe(this)
  }
}

export const KieError = Schema.Union(KieUserError, KieTransientError, KieOperatorError, KieUnknownError)
export type KieError = typeof KieError.Type
