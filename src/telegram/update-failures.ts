/**
 * What happens to an update whose handling failed, by the failure's class
 * (src/errors/failure-class.ts):
 * - transient (the database or the cluster went away): the entity dies, the cluster
 *   restarts it and delivers the persisted update again, for as long as the outage lasts;
 * - deterministic or unknown: handled again here, in the same delivery, a bounded number
 *   of times; then the update is set aside (recorded, counted, the user told) and
 *   acknowledged, so the user's next updates are handled.
 *
 * The retries stay inside one delivery rather than going through entity restarts: the
 * cluster's restart backoff is shared by all User entities of a runner and grows to 10 s
 * for good, so one user's poison would hold every later update of that user for a minute,
 * and a count kept between restarts would need storage of its own. A runner that dies in
 * the middle starts the count again on the next delivery, which only adds a few attempts.
 */
import { Cause, Duration, Effect, Either, Metric, Option } from "effect"
import { classifyFailure, describeFailure } from "../errors/failure-class.js"
import type { Redactor } from "../observability/redaction.js"
import { updatesRetried, updatesSetAside } from "../observability/metrics.js"
import type { SetAsideUpdate } from "../storage/dead-letter-updates.js"

export interface UpdateRetry {
  /** Handlings of one delivery at most, the first included. */
  readonly attempts: number
  /** The pause before the second handling; it doubles for each further one. */
  readonly firstPause: Duration.Duration
}

/**
 * Deterministic failures are nearly always the input's: three tries settle a race that
 * looked like a constraint violation. Unknown ones get about half a minute.
 */
export const updateRetry: Record<"deterministic" | "unknown", UpdateRetry> = {
  deterministic: { attempts: 3, firstPause: Duration.millis(250) },
  unknown: { attempts: 6, firstPause: Duration.seconds(1) }
}

/** The pause before handling again after `attempt` failed handlings; none once they are used up. */
export const pauseAfter = (policy: UpdateRetry, attempt: number): Option.Option<Duration.Duration> =>
  attempt >= policy.attempts ? Option.none() : Option.some(Duration.times(policy.firstPause, 2 ** (attempt - 1)))

export type SetAside = (
  cause: Cause.Cause<unknown>,
  failureClass: "deterministic" | "unknown",
  attempts: number
) => Effect.Effect<void>

/**
 * Runs `handleOnce` (which fails with the cause of a failed handling) under the rules
 * above. Dies with a transient failure, so that the cluster delivers the update again.
 */
export const handleBounded = (handleOnce: Effect.Effect<void, Cause.Cause<unknown>>, setAside: SetAside) =>
  Effect.gen(function*() {
    for (let attempt = 1;; attempt++) {
      const result = yield* Effect.either(handleOnce)
      if (Either.isRight(result)) return
      const cause = result.left
      const failureClass = classifyFailure(cause)
      if (failureClass === "transient") {
        yield* Metric.increment(updatesRetried)
        return yield* Effect.die(Cause.squash(cause))
      }
      const pause = pauseAfter(updateRetry[failureClass], attempt)
      if (Option.isNone(pause)) return yield* setAside(cause, failureClass, attempt)
      yield* Metric.increment(updatesRetried)
      yield* Effect.logWarning(`the update failed (${failureClass}); handling it again`).pipe(
        Effect.annotateLogs({ attempt, pauseMs: Duration.toMillis(pause.value) })
      )
      yield* Effect.sleep(pause.value)
    }
  })

interface UpdateSender {
  readonly kind: string
  readonly chatId: number | undefined
  readonly languageCode: string | undefined
}

/** The update's kind (`message`, `callback_query`, …), the chat to answer in and the sender's language. */
export const senderOf = (update: Record<string, unknown>): UpdateSender => {
  for (const [kind, value] of Object.entries(update)) {
    if (kind === "update_id" || typeof value !== "object" || value === null) continue
    const body = value as {
      readonly from?: { readonly id?: unknown; readonly language_code?: unknown }
      readonly chat?: { readonly id?: unknown }
      readonly message?: { readonly chat?: { readonly id?: unknown } }
    }
    const chatId = body.chat?.id ?? body.message?.chat?.id ?? body.from?.id
    return {
      kind,
      chatId: typeof chatId === "number" ? chatId : undefined,
      languageCode: typeof body.from?.language_code === "string" ? body.from.language_code : undefined
    }
  }
  return { kind: "unknown", chatId: undefined, languageCode: undefined }
}

/** The row that records a set-aside update. */
export const setAsideRow = (
  update: { readonly update_id: number } & Record<string, unknown>,
  userId: SetAsideUpdate["userId"],
  cause: Cause.Cause<unknown>,
  failureClass: "deterministic" | "unknown",
  attempts: number,
  redactor: Redactor
): SetAsideUpdate => {
  const described = describeFailure(cause, redactor.redact)
  return {
    updateId: update.update_id,
    userId,
    updateKind: senderOf(update).kind,
    failureClass,
    errorTag: described.tag,
    errorCode: described.code,
    detail: described.detail,
    attempts,
    // JSON escapes U+0000, so the update as received is storable text.
    payload: JSON.stringify(update)
  }
}

export const recordSetAside = (failureClass: "deterministic" | "unknown") =>
  Metric.increment(Metric.tagged(updatesSetAside, "failure_class", failureClass))
